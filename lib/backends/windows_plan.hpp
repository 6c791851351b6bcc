// An order-free rule set for Windows Firewall, computed from packet sets.
//
// Windows Firewall has no rule order: a packet is dropped when any block
// rule matches it, else passed when an allow rule matches it or the
// profile's default allows it. rulec's policies are ordered (last match,
// `done`), so the Windows backends do not translate rules one by one: they
// compute, per direction, the exact set of packets the reference evaluator
// passes (lib/analysis/packetset.hpp) and cover it either with allow rules
// under a default of Block, or its complement with block rules under a
// default of Allow, whichever needs fewer rules. Rules that match packets on
// interfaces the policy never names are written for every interface, with
// block rules on the named interfaces where that would pass too much.
//
// What has no exact equivalent is reported (RC550-RC553) and refused under
// EmitOptions::strict: Windows keeps state for every allowed connection,
// cannot reject, logs per profile rather than per rule, and matches ports
// only for TCP and UDP (SCTP with ports is then blocked, never allowed).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/packetset.hpp"
#include "backends/backend.hpp"
#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"

namespace rulec::backends::windows {

using analysis::Interval;

/// One Windows Firewall rule, ready to write.
struct WinRule {
  ir::Direction direction = ir::Direction::In;
  bool allow = true;
  std::vector<std::uint32_t> interfaces;  ///< indexes into Policy::interfaces; empty: every interface
  std::optional<ir::Family> family;       ///< nullopt: both families (then no addresses)
  std::vector<Interval> local, remote;    ///< addresses; empty: the whole family
  int protocol = -1;                      ///< -1: any protocol
  std::vector<Interval> local_ports, remote_ports;  ///< TCP/UDP only; empty: any
  std::vector<Interval> icmp_types;                 ///< ICMP/ICMPv6 only; empty: any
  /// The IR rule that decides these packets; -1: the default; -2: several rules.
  std::int64_t rule = -1;
};

/// The rules and profile default of one direction.
struct DirectionPlan {
  bool default_allow = true;
  std::size_t allow_rules = 0, block_rules = 0;
  /// The rule count of the covering that was not chosen (SIZE_MAX: impossible).
  std::size_t alternative_rules = SIZE_MAX;
};

/// The whole computed rule set.
struct Plan {
  std::array<DirectionPlan, 2> directions;  ///< [In], [Out]
  std::vector<WinRule> rules;               ///< inbound rules first, then outbound
  bool log_allowed = false, log_blocked = false;
};

struct PlanOptions {
  bool strict = false;  ///< approximations are errors, not warnings
  /// Refuse (RC554) rather than emit more Windows rules than this.
  std::size_t max_rules = 200000;
  /// Skip the whole-direction method and compute regions rule by rule, as
  /// for policies too large for it (tests use this to check that method).
  bool by_rule = false;
  /// Refuse (RC554) when the rule-by-rule method would look at more rules
  /// of the analysis index than this to find the packets each rule decides
  /// (each rule gets an equal share): a bound on its time, whatever the rules.
  std::size_t max_looks = 1'000'000'000;
};

/// Computes the order-free rule set. Adds RC55x diagnostics to `sink`;
/// returns false after an error (approximations under strict, too many rules).
bool plan(const ir::Policy& policy, const PlanOptions& options, diag::Sink& sink, Plan& out);

/// The PowerShell script for a computed rule set (windows.cpp).
std::string powershell_script(const ir::Policy& policy, const Plan& plan, const EmitOptions& options);

}  // namespace rulec::backends::windows
