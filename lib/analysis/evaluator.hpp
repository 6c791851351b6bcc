// The reference evaluator: what a policy does to one concrete packet.
//
// This is the definition every other part of rulec is measured against
// (README, "Semantics"): rules are read top to bottom, the last matching rule
// decides, a matching rule with `done` decides at once; a passed packet
// whose deciding rule has `state` creates state, and later packets of that
// connection in the same direction, and its replies in the other, pass
// without rule evaluation. A packet no rule matches gets its direction's
// default (pass when there is none). State is not bound to an interface,
// but it is bound to a direction: a forwarded packet is judged in on one
// interface and out on the other, and each judgement needs its own pass.
#pragma once

#include <set>
#include <tuple>
#include <vector>

#include "analysis/packet.hpp"
#include "ir/ir.hpp"

namespace rulec::analysis {

/// Connections that `state` rules have let in, as pf's state table does.
class StateTable {
 public:
  /// True when `p` belongs to a connection in the table: same direction
  /// and same 5-tuple, or the opposite direction and the reversed 5-tuple.
  bool matches(const Packet& p) const;
  void add(const Packet& p);
  std::size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }

 private:
  using Key = std::tuple<int, int, int, ir::U128, ir::U128, int, int>;
  static Key key_of(const Packet& p);
  std::set<Key> entries_;
};

struct Verdict {
  ir::Action action = ir::Action::Pass;
  enum class By { Rule, Default, NoDefault, State };
  By by = By::NoDefault;
  std::int64_t rule = -1;      ///< the deciding IR rule, when by == Rule
  bool created_state = false;  ///< this packet created a state entry
  bool passed() const { return action == ir::Action::Pass; }
};

/// "rule", "default", "no-default" or "state": what decided, in JSON and Python.
const char* to_string(Verdict::By by);

/// True when the rule's match covers the packet. `iface` is the packet's
/// interface index in `policy` (Policy::interface_index).
bool matches(const ir::Match& m, const Packet& p, std::uint32_t iface);

/// Judges one packet. With a state table, state is consulted first and
/// updated when the deciding rule keeps state.
Verdict evaluate(const ir::Policy& policy, const Packet& p, StateTable* state = nullptr);

/// Every IR rule that matches the packet, in policy order (for trace).
std::vector<std::uint32_t> matching_rules(const ir::Policy& policy, const Packet& p);

}  // namespace rulec::analysis
