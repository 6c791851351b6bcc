// Finding the rules that touch a set of packets without comparing every pair.
//
// Lint asks, for each rule, which other rules share packets with it. At 100k
// rules comparing every pair is out of the question, so rules are indexed on
// three keys: (protocol, destination port, direction, interface),
// destination address and source address. Each key holds a rule's few
// intervals, grouped by width so that a query finds overlapping intervals
// with two binary searches per group. A query scans the key where the set is
// most selective, then filters by the hull of every field; the exact test is
// left to the packet-set algebra. Cost grows with the number of rules that
// share a key with the query, not with the square of the policy.
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

  /// Calls `visit(rule)` for the same rules, each once, in no particular
  /// order (the widest rules first); stops when `visit` returns false. Not
  /// reentrant: `visit` must not query the index.
  template <typename Visit>
  void for_each_candidate(const PacketSet& set, Visit visit) const;

 private:
  static constexpr std::size_t kKeys = 3;
  static constexpr std::size_t kClasses = 33;  // widths by 4-bit steps of their bit length
  struct Entry {
    Interval span;
    std::uint32_t rule;
  };
  struct WidthClass {
    std::vector<Entry> entries;  // sorted by span.lo
    ir::U128 max_width = 0;
  };
  using Key = std::array<WidthClass, kClasses>;

  static std::vector<Interval> key_intervals(const PacketSet& s, std::size_t key);
  /// The key a query scans, its intervals, and the set's hull; false for an empty set.
  bool plan(const PacketSet& set, std::size_t& key, std::vector<Interval>& q,
            std::array<Interval, kFieldCount>& hull) const;
  static bool hulls_overlap(const std::array<Interval, kFieldCount>& a, const std::array<Interval, kFieldCount>& b);
  void next_epoch() const;
  std::size_t estimate(const Key& k, const std::vector<Interval>& q) const;

  std::array<Key, kKeys> keys_;
  std::vector<std::array<Interval, kFieldCount>> hulls_;
  mutable std::vector<std::uint32_t> seen_;
  mutable std::uint32_t epoch_ = 0;
};

template <typename Visit>
void RuleIndex::for_each_candidate(const PacketSet& set, Visit visit) const {
  std::size_t key = 0;
  std::vector<Interval> q;
  std::array<Interval, kFieldCount> hull;
  if (!plan(set, key, q, hull)) return;
  next_epoch();
  for (std::size_t c = kClasses; c-- > 0;) {
    const WidthClass& wc = keys_[key][c];
    if (wc.entries.empty()) continue;
    for (const Interval& i : q) {
      ir::U128 from = i.lo >= wc.max_width ? i.lo - wc.max_width : 0;
      auto lo = std::lower_bound(wc.entries.begin(), wc.entries.end(), from,
                                 [](const Entry& x, ir::U128 v) { return x.span.lo < v; });
      for (auto e = lo; e != wc.entries.end() && e->span.lo <= i.hi; ++e) {
        if (e->span.hi < i.lo || seen_[e->rule] == epoch_) continue;
        seen_[e->rule] = epoch_;
        if (hulls_overlap(hulls_[e->rule], hull) && !visit(e->rule)) return;
      }
    }
  }
}

}  // namespace rulec::analysis
