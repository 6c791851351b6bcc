// One renderer for diagnostics: text (gcc/clang shape), JSON and SARIF 2.1.0.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "diag/codes.hpp"
#include "diag/diagnostic.hpp"
#include "version.hpp"

namespace rulec::diag {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::Note: return "note";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "?";
}

std::size_t Sink::count(Severity s) const {
  return static_cast<std::size_t>(
      std::count_if(diags_.begin(), diags_.end(), [s](const Diagnostic& d) { return d.severity == s; }));
}

void Sink::sort() {
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.has_loc != b.has_loc) return !a.has_loc;
    if (a.loc.file != b.loc.file) return a.loc.file < b.loc.file;
    if (a.loc.begin != b.loc.begin) return a.loc.begin < b.loc.begin;
    return a.code < b.code;
  });
}

namespace {

/// Length of the valid UTF-8 sequence at `s[i]`, or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0;
  if (n == 0 || b >= 0xf5 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

/// A source line made safe for a terminal: control bytes other than tab, and
/// bytes that are not valid UTF-8, shown as '?', so the caret still lines up.
std::string printable(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size();) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x80) {
      out += (c < 0x20 && c != '\t') || c == 0x7f ? '?' : static_cast<char>(c);
      ++i;
    } else if (std::size_t n = utf8_length(line, i)) {
      out.append(line.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

/// The quoted source line and a caret line under `loc` (tabs kept so it lines up).
void quote_source(std::string& out, const SourceMap& sources, const Location& loc) {
  if (loc.file >= sources.size()) return;
  const SourceFile& f = sources.file(loc.file);
  if (f.text().empty()) return;
  LineCol lc = f.line_col(loc.begin);
  std::string_view line = f.line_text(loc.begin);
  if (line.size() > 400) {  // a huge line: show the part around the column
    std::size_t from = lc.column > 200 ? lc.column - 200 : 0;
    line = line.substr(from, 400);
    lc.column -= static_cast<std::uint32_t>(from);
  }
  std::string gutter = std::to_string(lc.line);
  out += fmt::format(" {} | {}\n", gutter, printable(line));
  std::string caret;
  // One blank per character shown before the column (tabs kept), so the caret
  // lines up under multi-byte UTF-8 characters too.
  for (char c : printable(line.substr(0, std::min<std::size_t>(lc.column - 1, line.size()))))
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) caret += c == '\t' ? '\t' : ' ';
  caret += '^';
  std::uint32_t len = loc.end > loc.begin ? loc.end - loc.begin : 1;
  std::uint32_t room = line.size() >= lc.column ? static_cast<std::uint32_t>(line.size()) - lc.column + 1 : 1;
  len = std::min(len, room);
  if (len > 1) caret.append(len - 1, '~');
  out += fmt::format(" {} | {}\n", std::string(gutter.size(), ' '), caret);
}

std::string render_text(const std::vector<Diagnostic>& diags, const SourceMap& sources) {
  std::string out;
  for (const Diagnostic& d : diags) {
    std::string where = d.has_loc ? sources.describe(d.loc) + ": " : "rulec: ";
    out += fmt::format("{}{}: {} [{}]\n", where, to_string(d.severity), d.message, d.code);
    if (d.has_loc) quote_source(out, sources, d.loc);
    for (const Label& n : d.notes) {
      out += fmt::format("{}: note: {}\n", sources.describe(n.loc), n.message);
      quote_source(out, sources, n.loc);
    }
    if (!d.witness.empty()) out += fmt::format("  witness: {}\n", d.witness);
    if (!d.hint.empty()) out += fmt::format("  fix: {}\n", d.hint);
  }
  return out;
}

nlohmann::json location_json(const SourceMap& sources, const Location& loc) {
  nlohmann::json j;
  if (loc.file >= sources.size()) return j;
  const SourceFile& f = sources.file(loc.file);
  LineCol b = f.line_col(loc.begin), e = f.line_col(std::max(loc.end, loc.begin));
  j["file"] = f.name();
  j["line"] = b.line;
  j["column"] = b.column;
  j["end_line"] = e.line;
  j["end_column"] = e.column;
  return j;
}

std::string render_json(const std::vector<Diagnostic>& diags, const SourceMap& sources) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Diagnostic& d : diags) {
    nlohmann::json j;
    j["severity"] = to_string(d.severity);
    j["code"] = d.code;
    j["message"] = d.message;
    j["location"] = d.has_loc ? location_json(sources, d.loc) : nlohmann::json(nullptr);
    j["notes"] = nlohmann::json::array();
    for (const Label& n : d.notes) {
      nlohmann::json nj = location_json(sources, n.loc);
      nj["message"] = n.message;
      j["notes"].push_back(nj);
    }
    j["hint"] = d.hint.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.hint);
    j["witness"] = d.witness.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.witness);
    arr.push_back(j);
  }
  nlohmann::json doc{{"version", 1}, {"diagnostics", arr}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::json sarif_location(const SourceMap& sources, const Location& loc, const std::string& message) {
  const SourceFile& f = sources.file(loc.file);
  LineCol b = f.line_col(loc.begin), e = f.line_col(std::max(loc.end, loc.begin + 1));
  nlohmann::json region{{"startLine", b.line}, {"startColumn", b.column}};
  if (e.line == b.line) region["endColumn"] = e.column;
  nlohmann::json j{{"physicalLocation", {{"artifactLocation", {{"uri", f.name()}}}, {"region", region}}}};
  if (!message.empty()) j["message"] = {{"text", message}};
  return j;
}

std::string render_sarif(const std::vector<Diagnostic>& diags, const SourceMap& sources) {
  nlohmann::json rules = nlohmann::json::array();
  for (const CodeInfo& c : all_codes())
    rules.push_back({{"id", c.code}, {"name", c.name}, {"shortDescription", {{"text", c.summary}}}});
  nlohmann::json results = nlohmann::json::array();
  for (const Diagnostic& d : diags) {
    static const char* levels[] = {"note", "warning", "error"};
    std::string text = d.message;
    if (!d.hint.empty()) text += " (fix: " + d.hint + ")";
    nlohmann::json r{{"ruleId", d.code}, {"level", levels[static_cast<int>(d.severity)]}, {"message", {{"text", text}}}};
    r["locations"] = nlohmann::json::array();
    if (d.has_loc && d.loc.file < sources.size()) r["locations"].push_back(sarif_location(sources, d.loc, ""));
    if (!d.notes.empty()) {
      r["relatedLocations"] = nlohmann::json::array();
      int id = 1;
      for (const Label& n : d.notes) {
        nlohmann::json l = sarif_location(sources, n.loc, n.message);
        l["id"] = id++;
        r["relatedLocations"].push_back(l);
      }
    }
    if (!d.witness.empty()) r["properties"] = {{"witness", d.witness}};
    results.push_back(r);
  }
  nlohmann::json doc{
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       {{{"tool", {{"driver", {{"name", "rulec"}, {"version", RULEC_VERSION}, {"rules", rules}}}}},
         {"results", results}}}}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string render(const std::vector<Diagnostic>& diags, const SourceMap& sources, Format fmt) {
  switch (fmt) {
    case Format::Text: return render_text(diags, sources);
    case Format::Json: return render_json(diags, sources);
    case Format::Sarif: return render_sarif(diags, sources);
  }
  return {};
}

}  // namespace rulec::diag
