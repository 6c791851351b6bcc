// Shared pieces of the libFuzzer targets: parse a buffer, check invariants.
//
// The fuzz targets feed arbitrary bytes to the front end, the linter, every
// backend and the packet syntax. Not crashing is the least they check: each
// target also checks the properties the README promises (fmt round-trips and
// is idempotent, lowering is the same before and after fmt, the evaluator
// gives the same verdicts, every target emits or explains why not). A broken
// property prints what broke and aborts, so libFuzzer keeps the input.
// Includes are recorded but never followed: a fuzzer must not read the disk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/evaluator.hpp"
#include "analysis/packet.hpp"
#include "diag/codes.hpp"
#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "semantics/semantics.hpp"
#include "syntax/ast.hpp"
#include "syntax/format.hpp"
#include "syntax/parser.hpp"

namespace rulec::fuzz {

/// Prints what broke, with the offending texts, and aborts (libFuzzer keeps the input).
[[noreturn]] inline void fail(const char* what, std::string_view a = {}, std::string_view b = {}) {
  std::fprintf(stderr, "\n*** invariant broken: %s\n", what);
  if (!a.empty()) std::fprintf(stderr, "--- first:\n%.*s\n", static_cast<int>(a.size()), a.data());
  if (!b.empty()) std::fprintf(stderr, "--- second:\n%.*s\n", static_cast<int>(b.size()), b.data());
  std::abort();
}

#define RULEC_FUZZ_CHECK(cond, ...) \
  do {                              \
    if (!(cond)) ::rulec::fuzz::fail(#cond ": " __VA_ARGS__); \
  } while (0)

/// One policy file parsed (and, on request, lowered) on its own.
struct Parsed {
  diag::SourceMap sources;
  ast::Policy ast;
  diag::Sink sink;
  ir::Policy ir;
  bool syntax_ok = false;  ///< no syntax errors (before lowering)
  bool lowered = false;    ///< lowered, whatever the outcome

  /// Parsed and lowered without errors: the IR is complete.
  bool ok() const { return lowered && !sink.has_errors(); }
  const std::string& text() const { return sources.file(0).text(); }
};

/// Parses `text` as the file "fuzz.rules"; lowers it when `lower` and the syntax is clean.
inline std::unique_ptr<Parsed> parse(std::string text, bool lower) {
  auto p = std::make_unique<Parsed>();
  std::uint32_t id = p->sources.add("fuzz.rules", std::move(text));
  syntax::parse_text(p->ast, p->sources, id, p->sink);
  p->syntax_ok = !p->sink.has_errors();
  if (lower && p->syntax_ok) {
    p->ir = semantics::lower(p->ast, p->sink);
    p->lowered = true;
  }
  return p;
}

/// Every diagnostic points into a file of the map, inside its text, with a
/// known code and a message; rendering it in every format works.
inline void check_diagnostics(const diag::Sink& sink, const diag::SourceMap& sources) {
  for (const diag::Diagnostic& d : sink.all()) {
    RULEC_FUZZ_CHECK(diag::find_code(d.code) != nullptr, "a diagnostic code is missing from the code table",
                     d.code);
    RULEC_FUZZ_CHECK(!d.message.empty(), "a diagnostic without a message", d.code);
    auto inside = [&](const diag::Location& l) {
      return l.file < sources.size() && l.begin <= l.end && l.end <= sources.file(l.file).text().size();
    };
    if (d.has_loc) RULEC_FUZZ_CHECK(inside(d.loc), "a diagnostic points outside its file", d.message);
    for (const diag::Label& n : d.notes) RULEC_FUZZ_CHECK(inside(n.loc), "a note points outside its file", n.message);
  }
  for (diag::Format f : {diag::Format::Text, diag::Format::Json, diag::Format::Sarif}) {
    std::string out = diag::render(sink.all(), sources, f);
    RULEC_FUZZ_CHECK(sink.all().empty() || !out.empty(), "rendering diagnostics gave nothing");
  }
}

/// The codes of the diagnostics, in order (locations differ after fmt; codes must not).
inline std::string codes_of(const diag::Sink& sink) {
  std::vector<std::string> codes;
  for (const auto& d : sink.all()) codes.push_back(d.code);
  std::sort(codes.begin(), codes.end());
  std::string out;
  for (const auto& c : codes) out += c + " ";
  return out;
}

/// A few packets worth judging under `policy`: fixed ones of every common
/// protocol, plus packets aimed at the addresses, ports and interfaces the
/// first rules name, so verdicts differ from rule to rule.
inline std::vector<analysis::Packet> probe_packets(const ir::Policy& policy) {
  using analysis::Packet;
  std::vector<Packet> out;
  std::vector<std::string> ifaces = {""};
  for (std::size_t i = 0; i < policy.interfaces.size() && i < 2; ++i) ifaces.push_back(policy.interfaces[i]);
  const std::uint8_t protos[] = {ir::proto::tcp, ir::proto::udp, ir::proto::icmp, ir::proto::gre, ir::proto::esp};
  for (std::size_t i = 0; i < std::size(protos); ++i) {
    Packet p;
    p.direction = i % 2 ? ir::Direction::Out : ir::Direction::In;
    p.interface = ifaces[i % ifaces.size()];
    p.protocol = protos[i];
    p.src = 0xC0000207;  // 192.0.2.7
    p.dst = 0xC6336402;  // 198.51.100.2
    if (ir::proto::has_ports(protos[i])) {
      p.sport = 40000;
      p.dport = protos[i] == ir::proto::tcp ? 1723 : 500;
    }
    if (protos[i] == ir::proto::icmp) p.icmp_type = 8;  // echo-request
    out.push_back(p);
  }
  for (std::size_t i = 0; i < policy.rules.size() && i < 6; ++i) {
    const ir::Match& m = policy.rules[i].match;
    Packet p;
    p.direction = !m.directions.empty() && m.directions[0].lo == 1 ? ir::Direction::Out : ir::Direction::In;
    if (!m.interfaces.empty() && m.interfaces[0].lo < policy.interfaces.size())
      p.interface = policy.interfaces[m.interfaces[0].lo];
    if (!m.families.empty()) p.family = static_cast<ir::Family>(m.families[0].lo);
    p.protocol = m.protocols.empty() ? ir::proto::tcp : m.protocols[0].lo;
    if (!m.src.empty()) p.src = m.src[0].lo;
    if (!m.dst.empty()) p.dst = m.dst[0].hi;
    if (ir::proto::has_ports(p.protocol)) {
      p.sport = m.sport.empty() ? 40000 : m.sport[0].lo;
      p.dport = m.dport.empty() ? 443 : m.dport[0].hi;
    }
    if (ir::proto::is_icmp(p.protocol) && !m.icmp_types.empty()) p.icmp_type = m.icmp_types[0].lo;
    out.push_back(p);
  }
  return out;
}

/// The verdicts of `packets` under `policy`, one stateless and one through a
/// state table (each packet, then its reply), as comparable text.
inline std::string verdicts(const ir::Policy& policy, const std::vector<analysis::Packet>& packets) {
  std::string out;
  analysis::StateTable state;
  for (const analysis::Packet& p : packets) {
    for (int pass = 0; pass < 2; ++pass) {
      analysis::Verdict v = pass == 0 ? analysis::evaluate(policy, p)
                                      : analysis::evaluate(policy, p, &state);
      out += std::to_string(static_cast<int>(v.action)) + "/" + std::to_string(static_cast<int>(v.by)) + "/" +
             std::to_string(v.rule) + (v.created_state ? "s " : " ");
    }
    analysis::Verdict reply = analysis::evaluate(policy, analysis::reply_to(p), &state);
    out += "reply " + std::to_string(static_cast<int>(reply.action)) + "/" +
           std::to_string(static_cast<int>(reply.by)) + "\n";
  }
  return out;
}

/// True when both policies have the same IR rules and defaults, locations aside.
inline bool same_rules(const ir::Policy& a, const ir::Policy& b) {
  if (a.rules.size() != b.rules.size() || a.interfaces != b.interfaces) return false;
  for (std::size_t i = 0; i < a.rules.size(); ++i) {
    const ir::Rule &x = a.rules[i], &y = b.rules[i];
    if (x.action != y.action || x.state != y.state || x.done != y.done || x.log != y.log ||
        a.label(x) != b.label(y) || !(x.match == y.match) || x.source_rule != y.source_rule)
      return false;
  }
  for (int d = 0; d < 2; ++d)
    if (a.defaults[d].action != b.defaults[d].action || a.defaults[d].explicit_ != b.defaults[d].explicit_)
      return false;
  return true;
}

}  // namespace rulec::fuzz
