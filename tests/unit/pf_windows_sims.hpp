// Small independent models of pf and Windows Firewall, for the backends' tests.
//
// Each reads the text a backend emitted (not the IR) and judges concrete
// packets the way the real firewall does: pf by last match with `quick`,
// per-direction floating states and `flags S/SA` (a packet judged without
// state is taken as a connection's first packet, a SYN; a reply as a
// SYN-ACK); Windows Firewall by "any matching block rule drops, else any
// matching allow rule or the profile default passes", keeping state for
// every allowed connection. The tests measure both against the reference
// evaluator on sampled packets.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/packet.hpp"
#include "ir/ir.hpp"

namespace rulec::testing {

/// One address item: family and an inclusive range.
struct AddrRange {
  ir::Family family;
  ir::U128 lo, hi;
};
using NumRanges = std::vector<std::pair<unsigned, unsigned>>;

/// Connections a firewall has state for (same semantics for pf and Windows:
/// bound to direction, not to interface).
class SimStates {
 public:
  bool matches(const analysis::Packet& p) const;
  void add(const analysis::Packet& p);

 private:
  using Key = std::tuple<int, int, int, ir::U128, ir::U128, int, int>;
  static Key key(const analysis::Packet& p);
  std::set<Key> keys_;
};

/// The verdict of a simulated firewall.
enum class SimVerdict { Pass, Block, Reject };

struct PfRule {
  ir::Action action = ir::Action::Pass;
  int direction = -1;  ///< -1 both
  bool quick = false, keep_state = false, flags_sa = false;
  std::vector<std::string> interfaces;
  int family = -1;
  std::vector<int> protocols;
  std::vector<AddrRange> src, dst;  ///< empty: any
  NumRanges sport, dport;           ///< empty: any
  std::vector<int> icmp_types;
  std::string label;
};

/// A parsed pf.conf as rulec writes it.
class PfSim {
 public:
  /// Parses; on failure returns nullopt and sets `error` to the offending line.
  static std::optional<PfSim> parse(const std::string& text, std::string& error);
  /// Judges a packet; `syn` says whether it opens a TCP connection.
  SimVerdict judge(const analysis::Packet& p, bool syn, SimStates* states) const;
  const std::vector<PfRule>& rules() const { return rules_; }

 private:
  bool matches(const PfRule& r, const analysis::Packet& p, bool syn) const;
  std::vector<PfRule> rules_;
};

struct WinSimRule {
  int direction = 0;
  bool allow = true;
  int protocol = -1;
  std::vector<std::string> interfaces;
  std::vector<AddrRange> local, remote;
  NumRanges local_ports, remote_ports;
  std::vector<int> icmp_types;
  std::string name, description;
};

/// A parsed PowerShell script as rulec writes it.
class WinSim {
 public:
  static std::optional<WinSim> parse(const std::string& text, std::string& error);
  SimVerdict judge(const analysis::Packet& p, SimStates* states) const;
  const std::vector<WinSimRule>& rules() const { return rules_; }
  bool default_allow[2] = {true, true};

 private:
  bool matches(const WinSimRule& r, const analysis::Packet& p) const;
  std::vector<WinSimRule> rules_;
};

/// Splits a PowerShell argument list `'a','b''c'` into its strings.
std::optional<std::vector<std::string>> ps_strings(const std::string& text, std::size_t& pos);

}  // namespace rulec::testing
