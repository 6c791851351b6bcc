// Finding the rules that touch a set of packets without comparing every pair.
//
// Lint asks, for each rule, which other rules share packets with it. At 100k
// rules comparing every pair is out of the question, so rules are indexed on
// three keys: (protocol, destination port), destination address and source
// address. Each key holds a rule's few intervals, grouped by width so that a
// query finds overlapping intervals with two binary searches per group. A
// query scans the key where the set is most selective, then filters by the
// hull of every field; the exact test is left to the packet-set algebra.
// Cost grows with the number of rules that really share packets, not with
// the square of the policy.
#pragma once

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
  std::size_t estimate(const Key& k, const std::vector<Interval>& q) const;

  std::array<Key, kKeys> keys_;
  std::vector<std::array<Interval, kFieldCount>> hulls_;
  mutable std::vector<std::uint32_t> seen_;
  mutable std::uint32_t epoch_ = 0;
};

}  // namespace rulec::analysis
