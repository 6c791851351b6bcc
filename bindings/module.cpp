// The private extension module rulec._rulec: a thin layer over the library.
//
// It loads policies into Documents and runs the library's stages on them
// (lint, backends, evaluator), handing back plain Python data; the `rulec`
// package (python/rulec/) builds the public objects and exceptions on top.
// A Document is never changed after loading, so one policy may be linted,
// compiled and traced from several threads: the GIL is released while the
// library parses, lints and compiles.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/evaluator.hpp"
#include "analysis/lint.hpp"
#include "backends/backend.hpp"
#include "convert.hpp"
#include "frontend.hpp"
#include "syntax/format.hpp"
#include "version.hpp"

namespace rulec::python {
namespace {

/// A loaded policy, shared read-only with Python.
class PyDocument {
 public:
  explicit PyDocument(std::unique_ptr<Document> doc) : doc_(std::move(doc)) {}
  const Document& doc() const { return *doc_; }

 private:
  std::unique_ptr<Document> doc_;
};

/// Loads with the GIL released. Line indexes are built lazily; they are
/// built here, while no other thread can see the document, so that later
/// const use from several threads is free of data races.
template <typename LoadFn>
PyDocument load_without_gil(LoadFn&& load_fn) {
  std::unique_ptr<Document> doc;
  {
    py::gil_scoped_release nogil;
    doc = load_fn();
    for (std::uint32_t i = 0; i < doc->sources.size(); ++i) doc->sources.file(i).line_col(0);
  }
  return PyDocument(std::move(doc));
}

PyDocument parse(const py::bytes& data, const std::string& filename, const std::string& base_dir) {
  std::string text = data;
  return load_without_gil([&] { return load_text(std::move(text), filename, base_dir); });
}

PyDocument load(const std::string& path) {
  return load_without_gil([&] { return load_file(path); });
}

py::list lint(const PyDocument& self) {
  const Document& doc = self.doc();
  if (!doc.ok()) throw std::invalid_argument("lint needs a policy without errors");
  diag::Sink sink;
  {
    py::gil_scoped_release nogil;
    for (const diag::Diagnostic& d : doc.diagnostics.all()) sink.add(d);
    analysis::lint(doc.ir, doc.ast, doc.sources, sink);
    sink.sort();
  }
  return diagnostics(sink.all(), doc.sources);
}

/// (ok, text, diagnostics): the configuration, or why there is none.
py::tuple compile(const PyDocument& self, const std::string& target, bool strict) {
  const Document& doc = self.doc();
  if (!doc.ok()) throw std::invalid_argument("compile needs a policy without errors");
  const backends::BackendEntry* entry = backends::find(target);
  if (!entry) throw std::invalid_argument("unknown target '" + target + "'");
  std::string out;
  diag::Sink sink;
  bool ok;
  {
    py::gil_scoped_release nogil;
    backends::EmitOptions options;
    options.strict = strict;
    options.sources = &doc.sources;
    ok = backends::compile(*entry, doc.ir, options, out, sink);
    sink.sort();
  }
  return py::make_tuple(ok, text(out), diagnostics(sink.all(), doc.sources));
}

/// Judges packets in order, with one state table (later packets of a
/// connection pass by the state of earlier ones, as in `rulec trace`).
py::list trace(const PyDocument& self, const std::vector<std::string>& specs) {
  const Document& doc = self.doc();
  if (!doc.ok()) throw std::invalid_argument("trace needs a policy without errors");
  analysis::StateTable state;
  py::list out;
  for (const std::string& spec : specs) {
    std::string error;
    auto packet = analysis::parse_packet(spec, error);
    if (!packet) throw std::invalid_argument("packet '" + spec + "': " + error);
    analysis::Verdict v = analysis::evaluate(doc.ir, *packet, &state);
    out.append(trace_result(doc, *packet, v));
  }
  return out;
}

/// (canonical packet text, "") or (None, error message with the column).
py::tuple parse_packet(const std::string& spec) {
  std::string error;
  auto packet = analysis::parse_packet(spec, error);
  if (!packet) return py::make_tuple(py::none(), text(error));
  return py::make_tuple(text(analysis::format_packet(*packet)), py::str(""));
}

/// (name, summary, features the target cannot express) for every target.
py::list targets() {
  py::list out;
  for (const backends::BackendEntry& e : backends::registry()) {
    py::list missing;
    for (const std::string& m : backends::missing_features(e.make()->capabilities())) missing.append(m);
    out.append(py::make_tuple(e.name, e.summary, missing));
  }
  return out;
}

/// The default verdict of each direction; a direction without a `default`
/// statement passes what no rule matched (explicit False, no location).
py::list defaults(const PyDocument& self) {
  const Document& doc = self.doc();
  py::list out;
  for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) {
    const ir::Default& d = doc.ir.default_for(dir);
    py::object where = d.explicit_ ? py::object(location(doc.sources, d.origin)) : py::object(py::none());
    out.append(py::make_tuple(ir::to_string(dir), ir::to_string(d.action), d.explicit_, where));
  }
  return out;
}

py::dict check_vpn(const PyDocument& self, const std::string& profile, const std::string& role,
                   const std::string& via_in, const std::string& via_out, const std::string& on,
                   std::optional<std::string> peer, std::optional<std::uint16_t> port) {
  if (!self.doc().ok()) throw std::invalid_argument("check_vpn needs a policy without errors");
  return vpn_check(self.doc(), {profile, role, via_in, via_out, on, std::move(peer), port});
}

void bind_document(py::module_& m) {
  py::class_<PyDocument>(m, "Document", "A loaded policy (private: use rulec.Policy)")
      .def_property_readonly("read", [](const PyDocument& d) { return d.doc().read; },
                             "the root file could be read")
      .def_property_readonly("ok", [](const PyDocument& d) { return d.doc().ok(); },
                             "read, and no errors: the policy is complete")
      .def_property_readonly(
          "files",
          [](const PyDocument& d) {
            py::list out;
            for (std::uint32_t i = 0; i < d.doc().sources.size(); ++i) out.append(text(d.doc().sources.file(i).name()));
            return out;
          },
          "every file read: the root first, then included files")
      .def(
          "diagnostics", [](const PyDocument& d) { return diagnostics(d.doc().diagnostics.all(), d.doc().sources); },
          "the front end's diagnostics, as dicts")
      .def(
          "render",
          [](const PyDocument& d) {
            return text(diag::render(d.doc().diagnostics.all(), d.doc().sources, diag::Format::Text));
          },
          "the front end's diagnostics as the CLI prints them")
      .def(
          "rules", [](const PyDocument& d) { return rules(d.doc()); }, "every source rule, as tuples")
      .def("defaults", &defaults, "(direction, action, explicit, location) for in, then out")
      .def(
          "format",
          [](const PyDocument& d) {
            if (!d.doc().ok()) throw std::invalid_argument("format needs a policy without errors");
            return text(syntax::format_file(d.doc().ast, d.doc().sources, 0));
          },
          "the root file in canonical formatting")
      .def("lint", &lint, "front-end diagnostics and every lint finding, as dicts")
      .def("compile", &compile, py::arg("target"), py::arg("strict"),
           "(ok, configuration text, diagnostics) for a target")
      .def("trace", &trace, py::arg("packets"), "judges packets in order with shared state")
      .def("check_vpn", &check_vpn, py::arg("profile"), py::arg("role"), py::arg("via_in"), py::arg("via_out"),
           py::arg("on"), py::arg("peer"), py::arg("port"), "the VPN check leg by leg, or an error, as a dict")
      .def(
          "vpn_profiles", [](const PyDocument& d) { return vpn_profile_names(&d.doc()); },
          "built-in and declared VPN profile names");
}

}  // namespace
}  // namespace rulec::python

PYBIND11_MODULE(_rulec, m) {
  using namespace rulec::python;
  m.doc() = "rulec's private extension module; use the rulec package";
  m.attr("version") = RULEC_VERSION;
  bind_document(m);
  m.def("parse", &parse, py::arg("data"), py::arg("filename"), py::arg("base_dir"),
        "loads a policy from UTF-8 bytes; includes resolve against base_dir");
  m.def("load", &load, py::arg("path"), "loads a policy file and its includes");
  m.def("parse_packet", &parse_packet, py::arg("spec"), "(canonical text, '') or (None, error)");
  m.def("targets", &targets, "(name, summary, cannot express) for every target");
  m.def(
      "vpn_profiles", [] { return vpn_profile_names(nullptr); }, "the built-in VPN profile names");
}
