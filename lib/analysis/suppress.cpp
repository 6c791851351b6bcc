// Suppression comments.
#include "analysis/suppress.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace rulec::analysis {

namespace {

void skip_blanks(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == ',')) s.remove_prefix(1);
}

bool eat(std::string_view& s, std::string_view word) {
  if (s.substr(0, word.size()) != word) return false;
  s.remove_prefix(word.size());
  return true;
}

}  // namespace

std::optional<std::vector<std::string>> parse_suppression(std::string_view s) {
  if (!eat(s, "#")) return std::nullopt;
  skip_blanks(s);
  if (!eat(s, "rulec:")) return std::nullopt;
  skip_blanks(s);
  if (!eat(s, "ignore")) return std::nullopt;
  std::vector<std::string> codes;
  while (true) {
    skip_blanks(s);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    if (s.empty()) break;
    std::size_t n = 0;
    while (n < s.size() && std::isalnum(static_cast<unsigned char>(s[n]))) ++n;
    std::string code(s.substr(0, n));
    bool valid = code.size() == 5 && code[0] == 'R' && code[1] == 'C' &&
                 std::all_of(code.begin() + 2, code.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!valid) break;  // the rest is prose: "# rulec: ignore RC301 (kept for the audit)"
    codes.push_back(std::move(code));
    s.remove_prefix(n);
  }
  return codes;
}

Suppressions::Suppressions(const ast::Policy& ast, const diag::SourceMap& sources) {
  // (file, line) -> rule statement starting or ending on that line
  std::map<std::pair<std::uint32_t, std::uint32_t>, const ast::Statement*> starts, ends;
  for (const ast::Statement& st : ast.statements) {
    if (st.kind != ast::Statement::Kind::Rule || st.file >= sources.size()) continue;
    const diag::SourceFile& f = sources.file(st.file);
    starts[{st.file, f.line_col(st.begin).line}] = &st;
    ends[{st.file, f.line_col(st.end > st.begin ? st.end - 1 : st.begin).line}] = &st;
  }
  for (const ast::Comment& c : ast.comments) {
    if (c.file >= sources.size()) continue;
    const diag::SourceFile& f = sources.file(c.file);
    if (c.end > f.text().size() || c.begin >= c.end) continue;
    auto codes = parse_suppression(std::string_view(f.text()).substr(c.begin, c.end - c.begin));
    if (!codes) continue;
    std::uint32_t line = f.line_col(c.begin).line;
    const ast::Statement* st = nullptr;
    if (c.own_line) {
      auto it = starts.find({c.file, line + 1});
      if (it != starts.end()) st = it->second;
    } else {
      auto it = ends.find({c.file, line});
      if (it != ends.end()) st = it->second;
    }
    if (st) entries_.push_back({{st->file, st->begin, st->end}, std::move(*codes)});
  }
}

bool Suppressions::suppresses(const diag::Diagnostic& d) const {
  if (!d.has_loc) return false;
  for (const Entry& e : entries_) {
    if (e.rule.file != d.loc.file || d.loc.begin < e.rule.begin || d.loc.begin >= e.rule.end) continue;
    if (e.codes.empty() || std::find(e.codes.begin(), e.codes.end(), d.code) != e.codes.end()) return true;
  }
  return false;
}

}  // namespace rulec::analysis
