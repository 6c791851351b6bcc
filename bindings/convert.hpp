// Library values as plain Python data, for the private _rulec module.
//
// The extension hands dicts, lists and strings to the `rulec` package, which
// turns them into read-only Python objects (python/rulec/_model.py). Every
// string from a policy file goes through text(): a policy may hold bytes
// that are not UTF-8, and they become U+FFFD instead of an exception.
// Functions here need the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/evaluator.hpp"
#include "diag/diagnostic.hpp"
#include "frontend.hpp"

namespace rulec::python {

namespace py = pybind11;

/// A Python str from bytes that should be UTF-8 (invalid bytes become U+FFFD).
py::str text(std::string_view s);

/// Locations as (file, line, column, end_line, end_column) tuples, with one
/// Python str per file however many locations name it.
class Locator {
 public:
  explicit Locator(const diag::SourceMap& sources) : sources_(sources) {}
  py::tuple operator()(const diag::Location& loc);

 private:
  const diag::SourceMap& sources_;
  std::vector<py::object> names_;
};

/// One location as Locator gives it.
py::tuple location(const diag::SourceMap& sources, const diag::Location& loc);

/// One diagnostic as a dict: severity, code, message, location (or None),
/// notes [(location, message)], hint, witness, and `text`, the CLI's rendering.
py::dict diagnostic(const diag::Diagnostic& d, const diag::SourceMap& sources);
py::list diagnostics(const std::vector<diag::Diagnostic>& diags, const diag::SourceMap& sources);

/// Every source rule of the policy, in reading order (includes expanded),
/// as tuples in the fields' order of rulec.Rule: index, action, direction,
/// interface, clauses (kind, values, ports, location), options, label,
/// location, text. Tuples, not dicts: a policy may have a million rules.
py::list rules(const Document& doc);

/// One judged packet for Policy.trace: packet, verdict, decided_by, rule
/// (source rule index or None), location, created_state, matching
/// [(source rule index, role)].
py::dict trace_result(const Document& doc, const analysis::Packet& packet, const analysis::Verdict& verdict);

}  // namespace rulec::python

namespace rulec::python {

/// What Policy.check_vpn asks (the options of `rulec check --vpn`).
struct VpnQuestion {
  std::string profile;
  std::string role = "client";
  std::string via_in, via_out, on;
  std::optional<std::string> peer;
  std::optional<std::uint16_t> port;
};

/// The VPN check leg by leg, as a dict (vpn, description, note, works,
/// client, server, topology, remarks, rows [leg, purpose, sender, reply,
/// verdict, hops, symptom, blocked_by]); on bad input a dict with "error"
/// ("unknown-profile" or "bad-request"), "message", "suggestion", "known".
py::dict vpn_check(const Document& doc, const VpnQuestion& question);

/// Every VPN profile name: built-in ones, and with a document also the ones it declares.
py::list vpn_profile_names(const Document* doc);

}  // namespace rulec::python
