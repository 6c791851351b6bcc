// The canonical formatter.
#include "syntax/format.hpp"

#include <fmt/format.h>

#include <algorithm>


namespace rulec::syntax {
namespace {

using ast::Clause;
using ast::Statement;
using ast::Value;

constexpr std::size_t kWidth = 100;

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Formatter {
 public:
  Formatter(const ast::Policy& p, const diag::SourceMap& sources, std::uint32_t file)
      : p_(p), text_(sources.file(file).text()), file_(file) {}

  std::string run();

 private:
  std::string value(const Value& v) const;
  std::string values(std::span<const Value> vs, std::size_t indent_hint) const;
  std::string clause(const Clause& c) const;
  std::string statement(const Statement& s) const;
  std::string comment_text(const ast::Comment& c) const {
    std::string t = text_.substr(c.begin, c.end - c.begin);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.pop_back();
    return t;
  }

  const ast::Policy& p_;
  const std::string& text_;
  std::uint32_t file_;
};

std::string Formatter::value(const Value& v) const {
  switch (v.kind) {
    case Value::Kind::Any: return "any";
    case Value::Kind::Address: return ast::address_text(p_, v);
    case Value::Kind::Number: return v.lo == v.hi ? std::to_string(v.lo) : fmt::format("{}-{}", v.lo, v.hi);
    case Value::Kind::Word: return p_.str(v.sym);
    case Value::Kind::Ref: return "$" + p_.str(v.sym);
  }
  return {};
}

std::string Formatter::values(std::span<const Value> vs, std::size_t indent_hint) const {
  if (vs.size() == 1) return value(vs[0]);
  // indent_hint SIZE_MAX: always one line (lists inside rules)
  std::string one_line = "{ ";
  for (std::size_t i = 0; i < vs.size(); ++i) one_line += (i ? ", " : "") + value(vs[i]);
  one_line += " }";
  if (indent_hint == SIZE_MAX || indent_hint + one_line.size() <= kWidth) return one_line;
  std::string multi = "{\n";
  for (const Value& v : vs) multi += "    " + value(v) + ",\n";
  return multi + "}";
}

std::string Formatter::clause(const Clause& c) const {
  switch (c.kind) {
    case Clause::Kind::From:
    case Clause::Kind::To: {
      std::string out = ast::to_string(c.kind);
      if (c.value_count) out += " " + values(p_.values_of(c), SIZE_MAX);
      if (c.port_count) out += " port " + values(p_.ports_of(c), SIZE_MAX);
      return out;
    }
    case Clause::Kind::Leg: {
      std::string out = values(p_.values_of(c), SIZE_MAX);
      if (c.port_count) out += " " + values(p_.ports_of(c), SIZE_MAX);
      return out;
    }
    default: return std::string(ast::to_string(c.kind)) + " " + values(p_.values_of(c), SIZE_MAX);
  }
}

std::string Formatter::statement(const Statement& s) const {
  std::string out;
  switch (s.kind) {
    case Statement::Kind::Rule: {
      out = ast::to_string(s.action);
      if (s.direction != ast::Direction::Both) out += std::string(" ") + ast::to_string(s.direction);
      if (s.iface) out += " on " + p_.str(s.iface);
      auto cs = p_.clauses_of(s);
      for (std::size_t i = 0; i < cs.size(); ++i) out += (i ? ", " : " ") + clause(cs[i]);
      if (s.options) {
        std::vector<std::string> opts;
        if (s.options & ast::OptState) opts.push_back("state");
        if (s.options & ast::OptDone) opts.push_back("done");
        if (s.options & ast::OptLog) opts.push_back("log");
        if (s.options & ast::OptLabel) opts.push_back("label " + quote(p_.str(s.label)));
        out += " >>";
        for (std::size_t i = 0; i < opts.size(); ++i) out += (i ? ", " : " ") + opts[i];
      }
      return out;
    }
    case Statement::Kind::Default:
      out = std::string("default ") + ast::to_string(s.action);
      if (s.direction != ast::Direction::Both) out += std::string(" ") + ast::to_string(s.direction);
      return out;
    case Statement::Kind::List:
      return p_.str(s.name) + " = " + values(p_.values_of(s), p_.str(s.name).size() + 3);
    case Statement::Kind::Service:
    case Statement::Kind::Vpn: {
      out = std::string(s.kind == Statement::Kind::Service ? "service " : "vpn ") + p_.str(s.name) + " = {";
      auto cs = p_.clauses_of(s);
      std::string inner;
      for (std::size_t i = 0; i < cs.size(); ++i) inner += (i ? ", " : " ") + clause(cs[i]);
      if (out.size() + inner.size() + 2 <= kWidth && inner.find('\n') == std::string::npos) return out + inner + " }";
      out += "\n";
      for (const Clause& c : cs) out += "    " + clause(c) + ",\n";
      return out + "}";
    }
    case Statement::Kind::Include: return "include " + quote(p_.str(s.name));
    case Statement::Kind::Require: {
      const ast::Requirement& r = p_.requirements[s.extra];
      out = "require vpn " + p_.str(s.name);
      if (r.role) out += " " + p_.str(r.role);
      if (r.via_in) out += " via " + p_.str(r.via_in) + ":" + p_.str(r.via_out);
      if (r.on) out += " on " + p_.str(r.on);
      if (r.peer_value != UINT32_MAX) out += " to " + value(p_.values[r.peer_value]);
      if (r.port_value != UINT32_MAX) out += " port " + value(p_.values[r.port_value]);
      return out;
    }
  }
  return out;
}

std::string Formatter::run() {
  // Everything of this file that takes a line, in text order.
  struct Item {
    std::uint32_t at;
    int kind;  // 0 blank line, 1 comment, 2 statement
    std::size_t index;
  };
  std::vector<Item> items;
  for (std::size_t i = 0; i < p_.statements.size(); ++i)
    if (p_.statements[i].file == file_) items.push_back({p_.statements[i].begin, 2, i});
  for (std::size_t i = 0; i < p_.comments.size(); ++i)
    if (p_.comments[i].file == file_) items.push_back({p_.comments[i].begin, 1, i});
  for (std::size_t i = 0; i < p_.blank_lines.size(); ++i)
    if (p_.blank_lines[i].first == file_) items.push_back({p_.blank_lines[i].second, 0, i});
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.at < b.at; });

  std::vector<std::string> lines;
  std::size_t last_stmt_line = SIZE_MAX;
  std::uint32_t last_stmt_end = 0;
  std::uint32_t last_stmt_begin = 0;
  for (const Item& it : items) {
    if (it.kind == 0) {
      if (!lines.empty() && !lines.back().empty()) lines.emplace_back();
      continue;
    }
    if (it.kind == 1) {
      const ast::Comment& c = p_.comments[it.index];
      std::string t = comment_text(c);
      bool trailing = !c.own_line && last_stmt_line != SIZE_MAX && c.begin >= last_stmt_end &&
                      text_.find('\n', last_stmt_end) >= c.begin;
      if (trailing && lines[last_stmt_line].find('\n') == std::string::npos) {
        lines[last_stmt_line] += " " + t;
      } else if (!c.own_line && last_stmt_line != SIZE_MAX && c.begin > last_stmt_begin && c.begin < last_stmt_end) {
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(last_stmt_line), t);  // inside a list
        ++last_stmt_line;
      } else if (c.own_line && last_stmt_line != SIZE_MAX && c.begin > last_stmt_begin && c.begin < last_stmt_end) {
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(last_stmt_line), t);
        ++last_stmt_line;
      } else {
        lines.push_back(t);
      }
      continue;
    }
    const Statement& s = p_.statements[it.index];
    lines.push_back(statement(s));
    last_stmt_line = lines.size() - 1;
    last_stmt_begin = s.begin;
    last_stmt_end = s.end;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  std::size_t first = 0;
  while (first < lines.size() && lines[first].empty()) ++first;
  for (std::size_t i = first; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

}  // namespace

std::string format_file(const ast::Policy& policy, const diag::SourceMap& sources, std::uint32_t file_id) {
  return Formatter(policy, sources, file_id).run();
}

}  // namespace rulec::syntax
