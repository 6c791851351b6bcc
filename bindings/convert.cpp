// Library values as plain Python data (see convert.hpp).
#include "convert.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace rulec::python {

py::str text(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::tuple Locator::operator()(const diag::Location& loc) {
  if (loc.file >= sources_.size()) return py::make_tuple(text("<unknown>"), 0, 0, 0, 0);
  if (names_.size() <= loc.file) names_.resize(loc.file + 1);
  const diag::SourceFile& f = sources_.file(loc.file);
  if (!names_[loc.file]) names_[loc.file] = text(f.name());
  diag::LineCol begin = f.line_col(loc.begin), end = f.line_col(std::max(loc.begin, loc.end));
  return py::make_tuple(names_[loc.file], begin.line, begin.column, end.line, end.column);
}

py::tuple location(const diag::SourceMap& sources, const diag::Location& loc) { return Locator(sources)(loc); }

namespace {

py::object optional_text(const std::string& s) { return s.empty() ? py::object(py::none()) : py::object(text(s)); }

std::string value_text(const ast::Policy& p, const ast::Value& v) {
  switch (v.kind) {
    case ast::Value::Kind::Any: return "any";
    case ast::Value::Kind::Address: return ast::address_text(p, v);
    case ast::Value::Kind::Number: return v.lo == v.hi ? fmt::format("{}", v.lo) : fmt::format("{}-{}", v.lo, v.hi);
    case ast::Value::Kind::Word: return p.str(v.sym);
    case ast::Value::Kind::Ref: return "$" + p.str(v.sym);
  }
  return "?";
}

py::tuple value_texts(const ast::Policy& p, std::span<const ast::Value> values) {
  py::tuple out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = text(value_text(p, values[i]));
  return out;
}

py::tuple clauses(const Document& doc, const ast::Statement& s, Locator& where) {
  auto all = doc.ast.clauses_of(s);
  py::tuple out(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const ast::Clause& c = all[i];
    out[i] = py::make_tuple(ast::to_string(c.kind), value_texts(doc.ast, doc.ast.values_of(c)),
                            value_texts(doc.ast, doc.ast.ports_of(c)), where(doc.ast.loc(s, c)));
  }
  return out;
}

/// The options as written, in the order they were written.
py::tuple options(const ast::Statement& s) {
  static constexpr std::array<const char*, 4> kNames{"state", "done", "log", "label"};
  std::vector<std::pair<std::uint32_t, const char*>> present;
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (s.options & (1u << i)) present.emplace_back(s.option_at[i], kNames[i]);
  std::sort(present.begin(), present.end());
  py::tuple out(present.size());
  for (std::size_t i = 0; i < present.size(); ++i) out[i] = present[i].second;
  return out;
}

py::tuple rule(const Document& doc, const ast::Statement& s, std::size_t index, Locator& where) {
  py::object direction = py::none(), iface = py::none(), label = py::none();
  if (s.direction != ast::Direction::Both) direction = py::str(ast::to_string(s.direction));
  if (s.iface) iface = text(doc.ast.str(s.iface));
  if (s.options & ast::OptLabel) label = text(doc.ast.str(s.label));
  const std::string& file_text = doc.sources.file(s.file).text();
  return py::make_tuple(index, ast::to_string(s.action), direction, iface, clauses(doc, s, where), options(s), label,
                        where(doc.ast.loc(s)), text(std::string_view(file_text).substr(s.begin, s.end - s.begin)));
}

}  // namespace

py::dict diagnostic(const diag::Diagnostic& d, const diag::SourceMap& sources) {
  py::dict out;
  out["severity"] = diag::to_string(d.severity);
  out["code"] = text(d.code);
  out["message"] = text(d.message);
  out["location"] = d.has_loc ? py::object(location(sources, d.loc)) : py::object(py::none());
  py::list notes;
  for (const diag::Label& n : d.notes) notes.append(py::make_tuple(location(sources, n.loc), text(n.message)));
  out["notes"] = notes;
  out["hint"] = optional_text(d.hint);
  out["witness"] = optional_text(d.witness);
  out["text"] = text(diag::render({d}, sources, diag::Format::Text));
  return out;
}

py::list diagnostics(const std::vector<diag::Diagnostic>& diags, const diag::SourceMap& sources) {
  py::list out;
  for (const diag::Diagnostic& d : diags) out.append(diagnostic(d, sources));
  return out;
}

py::list rules(const Document& doc) {
  py::list out;
  Locator where(doc.sources);
  std::size_t index = 0;
  for (const ast::Statement& s : doc.ast.statements)
    if (s.kind == ast::Statement::Kind::Rule) out.append(rule(doc, s, index++, where));
  return out;
}

namespace {


/// Source rules that match, once each, with what they did ("decides", ...).
py::list matching(const Document& doc, const analysis::Packet& packet, const analysis::Verdict& v) {
  py::list out;
  if (v.by == analysis::Verdict::By::State) return out;
  std::uint32_t last_source = UINT32_MAX;
  for (std::uint32_t i : analysis::matching_rules(doc.ir, packet)) {
    const ir::Rule& r = doc.ir.rules[i];
    if (r.source_rule == last_source) continue;
    last_source = r.source_rule;
    const char* role = static_cast<std::int64_t>(i) == v.rule ? "decides"
                       : static_cast<std::int64_t>(i) < v.rule ? "overridden"
                                                                : "not-consulted";
    out.append(py::make_tuple(r.source_rule, role));
  }
  return out;
}

}  // namespace

py::dict trace_result(const Document& doc, const analysis::Packet& packet, const analysis::Verdict& v) {
  py::dict d;
  d["packet"] = text(analysis::format_packet(packet));
  d["verdict"] = ir::to_string(v.action);
  d["decided_by"] = analysis::to_string(v.by);
  d["rule"] = py::none();
  d["location"] = py::none();
  if (v.by == analysis::Verdict::By::Rule) {
    const ir::Rule& r = doc.ir.rules[static_cast<std::size_t>(v.rule)];
    d["rule"] = r.source_rule;
    d["location"] = location(doc.sources, r.origin);
  } else if (v.by == analysis::Verdict::By::Default) {
    d["location"] = location(doc.sources, doc.ir.default_for(packet.direction).origin);
  }
  d["created_state"] = v.created_state;
  d["matching"] = matching(doc, packet, v);
  return d;
}

}  // namespace rulec::python
