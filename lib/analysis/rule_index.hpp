// Finding the rules that touch a set of packets without comparing every pair.
//
// Lint asks, for each rule, which other rules share packets with it. At 100k
// rules comparing every pair is out of the question, so the rules' hulls
// (the smallest boxes around each rule's packets: one per box of its set
// and per range of its ports and addresses, up to a few dozen) are
// bulk-loaded into a static box tree. Each node holds the box around its
// subtree and splits its rules on one field in turn (destination, source,
// port, protocol, interface, direction): rules that are wide in that field
// go to a child of their own (where the next field splits them), the others
// split at their median. A query walks only the subtrees whose box meets the
// query's hull, so its cost grows with the number of rules near it, not with
// the size of the policy. The exact test is left to the packet-set algebra.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "analysis/packetset.hpp"

namespace rulec::analysis {

class RuleIndex {
 public:
  /// Indexes `matches[i]`, the packet set of rule i.
  explicit RuleIndex(const std::vector<PacketSet>& matches);

  /// The rules whose match may share a packet with `set`: a superset of
  /// those that do, in ascending order, without duplicates.
  std::vector<std::uint32_t> candidates(const PacketSet& set) const;

  /// Calls `visit(rule)` for the same rules, each once, broad rules
  /// (those filed high in the tree) tending to come first; stops when
  /// `visit` returns false.
  template <typename Visit>
  void for_each_candidate(const PacketSet& set, Visit visit) const {
    for_each_candidate(set, visit, [](std::uint32_t) { return true; });
  }
  /// The same, for the rules `keep` accepts only (checked first: it is cheap).
  template <typename Visit, typename Keep>
  void for_each_candidate(const PacketSet& set, Visit visit, Keep keep) const;

 private:
  using Hull = std::array<Interval, kFieldCount>;
  static constexpr std::uint32_t kNone = UINT32_MAX;
  struct Node {
    Hull box;
    std::uint32_t first = 0, count = 0;  ///< rules_[first, first + count) held here (leaves)
    std::array<std::uint32_t, 3> children{kNone, kNone, kNone};
  };

  static bool overlap(const Hull& a, const Hull& b);
  std::uint32_t build(std::uint32_t first, std::uint32_t count, std::size_t depth);

  void add_hulls(const PacketSet& s, std::uint32_t rule);

  std::vector<Hull> hulls_;            ///< per entry
  std::vector<std::uint32_t> owner_;   ///< the rule of each entry
  std::vector<std::uint32_t> rules_;   ///< entry ids, in leaf order
  std::vector<Node> nodes_;            ///< nodes_[0] is the root (when any)
  mutable std::vector<std::uint32_t> seen_;  ///< per rule: the query that last visited it
  mutable std::uint32_t epoch_ = 0;
};

template <typename Visit, typename Keep>
void RuleIndex::for_each_candidate(const PacketSet& set, Visit visit, Keep keep) const {
  if (set.empty() || nodes_.empty()) return;
  Hull q;
  for (std::size_t f = 0; f < kFieldCount; ++f) q[f] = set.hull(static_cast<Field>(f));
  if (++epoch_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    epoch_ = 1;
  }
  std::vector<std::uint32_t> stack{0};
  while (!stack.empty()) {
    const Node& n = nodes_[stack.back()];
    stack.pop_back();
    if (!overlap(n.box, q)) continue;
    for (std::size_t c = n.children.size(); c-- > 0;)  // the wide child is visited first
      if (n.children[c] != kNone) stack.push_back(n.children[c]);
    for (std::uint32_t i = n.first; i < n.first + n.count; ++i) {
      std::uint32_t e = rules_[i], r = owner_[e];
      if (seen_[r] == epoch_ || !keep(r) || !overlap(hulls_[e], q)) continue;
      seen_[r] = epoch_;
      if (!visit(r)) return;
    }
  }
}

}  // namespace rulec::analysis
