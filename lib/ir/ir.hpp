// The normalised intermediate form: what every later stage reads.
//
// Lowering (lib/semantics/lower.cpp) turns the AST into this form: named
// lists and services are expanded, and each source rule becomes one or more
// IR rules, each a plain conjunction of per-field sets. Every field set is a
// sorted list of disjoint, non-adjacent inclusive ranges over an integer
// domain; an empty list means "any value". Lint, the VPN check, trace and
// every backend read this one form, so what is checked is what is emitted.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diag/source.hpp"

namespace rulec::ir {

/// 128-bit unsigned integer: IPv6 addresses; IPv4 addresses live in the low 32 bits.
using U128 = unsigned __int128;

enum class Action : std::uint8_t { Pass, Block, Reject };
enum class Direction : std::uint8_t { In = 0, Out = 1 };
enum class Family : std::uint8_t { Inet = 0, Inet6 = 1 };

const char* to_string(Action a);
const char* to_string(Direction d);
const char* to_string(Family f);

/// Well-known IP protocol numbers.
namespace proto {
inline constexpr std::uint8_t icmp = 1, tcp = 6, udp = 17, gre = 47, esp = 50, ah = 51,
                              icmpv6 = 58, sctp = 132;
/// TCP, UDP and SCTP carry ports; nothing else does.
constexpr bool has_ports(unsigned p) { return p == tcp || p == udp || p == sctp; }
constexpr bool is_icmp(unsigned p) { return p == icmp || p == icmpv6; }
}  // namespace proto

/// An inclusive range over one field's integer domain.
template <typename T>
struct Range {
  T lo{};
  T hi{};
  bool contains(T v) const { return lo <= v && v <= hi; }
  friend bool operator==(const Range&, const Range&) = default;
};

/// A set of values of one field: sorted, disjoint, non-adjacent ranges.
/// Empty means "any".
template <typename T>
using FieldSet = std::vector<Range<T>>;

template <typename T>
bool field_contains(const FieldSet<T>& set, T v) {
  if (set.empty()) return true;
  for (const auto& r : set)
    if (r.contains(v)) return true;
  return false;
}

/// Sorts and merges overlapping or adjacent ranges in place.
template <typename T>
void normalise(FieldSet<T>& set);

/// The match part of an IR rule: a conjunction of field sets.
/// Domains: directions 0..1 (Direction), interfaces 0..N (index into
/// Policy::interfaces; N means "an interface the policy never names"),
/// families 0..1 (Family), protocols 0..255, addresses per family (IPv4 in
/// 0..2^32-1), ports 0..65535 (0 for protocols without ports), ICMP type
/// 0..255 (0 for protocols other than ICMP and ICMPv6).
struct Match {
  FieldSet<std::uint8_t> directions;
  FieldSet<std::uint32_t> interfaces;
  FieldSet<std::uint8_t> families;
  FieldSet<std::uint8_t> protocols;
  /// Addresses are only meaningful together with one family: lowering
  /// splits a rule that names both IPv4 and IPv6 addresses into one IR rule
  /// per family, so a rule with non-empty src/dst has exactly one family.
  FieldSet<U128> src;
  FieldSet<U128> dst;
  FieldSet<std::uint16_t> sport;
  FieldSet<std::uint16_t> dport;
  FieldSet<std::uint8_t> icmp_types;
  friend bool operator==(const Match&, const Match&) = default;
};

/// One IR rule. Several IR rules may share one source rule (`origin`).
struct Rule {
  Action action = Action::Pass;
  bool state = false;  ///< `>> state`
  bool done = false;   ///< `>> done`: a match decides at once
  bool log = false;    ///< `>> log`
  std::string label;   ///< `>> label "text"`, raw text (backends escape it)
  Match match;
  diag::Location origin;       ///< span of the whole source rule
  std::uint32_t source_rule = 0;  ///< index of the source rule (0-based, across includes)
  /// True when the rule names no explicit interface, direction, family,
  /// protocol, address or port: `block`, `pass out`, ...
  bool matches_everything() const;
};

/// The default verdict for one direction.
struct Default {
  Action action = Action::Pass;
  bool explicit_ = false;  ///< false: no `default` statement; pf's "pass what nothing matched"
  diag::Location origin;
};

/// A `require vpn ...` statement.
struct Requirement {
  std::string vpn;          ///< profile name
  std::string role;         ///< "client", "server" or "" (client)
  std::string via_in, via_out;  ///< `via IN:OUT`, empty for a host policy
  std::string on;           ///< `on IFACE`, empty for any
  std::optional<std::string> peer;  ///< `to ADDR`, textual
  std::optional<std::uint16_t> port;
  diag::Location origin;
};

/// One leg of a custom VPN profile (`vpn NAME = { tcp 1723, gre }`): the
/// client starts it towards the server; replies must come back.
struct VpnLeg {
  std::uint8_t protocol = 0;
  std::optional<std::uint16_t> port;  ///< destination port on the server side
  diag::Location origin;
};

struct VpnDefinition {
  std::string name;
  std::vector<VpnLeg> legs;
  diag::Location origin;
};

/// The whole normalised policy.
struct Policy {
  std::vector<Rule> rules;
  /// defaults[Direction::In], defaults[Direction::Out]
  std::array<Default, 2> defaults;
  /// Every interface name the policy mentions, in first-use order. A
  /// packet on any other interface has interface index interfaces.size().
  std::vector<std::string> interfaces;
  std::vector<Requirement> requirements;
  std::vector<VpnDefinition> vpns;
  /// Location of every source rule, indexed by Rule::source_rule.
  std::vector<diag::Location> source_rules;
  /// Source rules that lowered to no IR rule because their clauses contradict
  /// each other (`protocol tcp, protocol udp`); lint reports them.
  std::vector<std::uint32_t> empty_source_rules;

  const Default& default_for(Direction d) const { return defaults[static_cast<int>(d)]; }
  /// Index of an interface name for packets; interfaces.size() if unnamed.
  std::uint32_t interface_index(const std::string& name) const;
};

/// Formats an address of a family ("192.0.2.1", "2001:db8::1").
std::string format_address(Family f, U128 a);
/// Parses an address; nullopt when it is neither IPv4 nor IPv6.
std::optional<std::pair<Family, U128>> parse_address(const std::string& text);

}  // namespace rulec::ir
