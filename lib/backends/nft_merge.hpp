// Merging a judgement's kernel rules into fewer rules with sets.
//
// A judgement chain is a list of kernel rules read first match first
// (linux_rules.hpp). Loading it costs the kernel and nft time per rule, so
// rules that differ only in their values are better written as one rule
// whose values are a set of concatenations (`ip daddr . tcp dport @rules_1`),
// the way the nftables documentation recommends; and a rule that an earlier
// rule matches whole never decides a packet and needs no kernel rule.
//
// Merging must not change which rule decides a packet. Two neighbouring
// rules may swap places when no packet matches both, or when both do the
// same thing (same verdict, same log prefix): then no packet can tell the
// order. So a rule may move up past every rule it commutes with, and join
// an earlier rule of its own shape and effect there. plan() does this
// greedily, in the chain's order: a rule that an earlier kept rule holds
// whole is left out; else it joins the largest group of its class, or the
// latest, when it commutes with every rule placed after that group and
// overlaps none of the group's own members (elements of a set of intervals
// must be disjoint); otherwise it starts a new group. Every test is exact;
// work is bounded per rule (a rule that would need more is kept, in a group
// of its own, which is always correct).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backends/linux_rules.hpp"

namespace rulec::backends::nft_merge {

/// Groups of fewer entries are written as separate rules. Every named set
/// costs the kernel a search of the table's sets when it is added and when
/// a rule names it, so thousands of small sets load slower than the rules
/// they replace (100k generated rules: 16,000 sets of 2-9 rules took 22 s
/// to load, against 3.6 s unmerged).
inline constexpr std::size_t min_merged = 8;

/// An entry whose class is this never joins another.
inline constexpr std::uint32_t kAlone = UINT32_MAX;
inline constexpr std::uint32_t kNone = UINT32_MAX;

/// An alternative's fields (linux_fw::Alternative), by reference.
struct AltFields {
  const ir::FieldSet<std::uint8_t>& protocols;
  bool negate_protocols;
  const ir::FieldSet<std::uint16_t>& sport;
  const ir::FieldSet<std::uint16_t>& dport;
  const ir::FieldSet<std::uint8_t>& icmp_types;
};

/// One kernel rule of a judgement: an IR rule's alternative. 64 bytes: its
/// protocols are kept here, its ports and ICMP types are the rule's own
/// sets (or empty ones), as linux_fw::AlternativeViews finds them.
struct Entry {
  const ir::Rule* rule = nullptr;
  ir::FieldSet<std::uint8_t> protocols;
  const ir::FieldSet<std::uint16_t>* sport = nullptr;  ///< never null once made
  const ir::FieldSet<std::uint16_t>* dport = nullptr;
  const ir::FieldSet<std::uint8_t>* icmp_types = nullptr;
  bool negate_protocols = false;
  /// Entries of one class may become one kernel rule: same interfaces,
  /// family, fields and effect, differing in values only. kAlone: never.
  /// Classes are numbered from 0, densely (the planner keeps a table
  /// indexed by class); from 2^24 on an entry is treated as kAlone.
  std::uint32_t klass = kAlone;
  /// What a match does: the verdict with its log prefix. Entries with the
  /// same effect commute whether they overlap or not.
  std::uint32_t effect = 0;

  /// Entry of `r`'s alternative `v` (one of AlternativeViews::of(r.match)),
  /// valid while `r` lives.
  static Entry of(const ir::Rule& r, const linux_fw::AlternativeView& v) {
    Entry e;
    e.rule = &r;
    e.protocols = *v.protocols;
    e.negate_protocols = v.negate_protocols;
    e.sport = v.sport;
    e.dport = v.dport;
    e.icmp_types = v.icmp_types;
    return e;
  }
  AltFields alt() const { return {protocols, negate_protocols, *sport, *dport, *icmp_types}; }
};

/// True when some packet matches both entries (their rules' interfaces,
/// families and addresses, their alternatives' protocols, ports and types).
bool overlap(const Entry& a, const Entry& b);

/// Groups of entries, in the order the kernel must see them: each group is
/// entries of one class (or a single entry), in their original order.
struct Plan {
  std::vector<std::uint32_t> entries;  ///< entry indices, group after group
  std::vector<std::uint32_t> starts;   ///< group g is entries[starts[g], starts[g + 1])
  /// Per entry: an earlier entry that matches all its packets, so that it
  /// never decides one and needs no kernel rule (a group of its own); else kNone.
  std::vector<std::uint32_t> covered_by;
  std::size_t groups() const { return starts.empty() ? 0 : starts.size() - 1; }
  std::span<const std::uint32_t> group(std::size_t g) const {
    return {entries.data() + starts[g], entries.data() + starts[g + 1]};
  }
};

/// Groups `entries` (given in first-match order). Reading the groups first
/// match first decides every packet as reading `entries` does.
Plan plan(const std::vector<Entry>& entries);

/// plan(), an entry at a time: a backend places each entry right after
/// making it, while the entry and its IR rule are still in the cache (at a
/// million rules a second look at each costs more than the planning).
class Planner {
 public:
  /// `entries` may grow between calls; `expected`: how many, roughly (room
  /// is made for a quarter more).
  Planner(const std::vector<Entry>& entries, std::size_t expected);
  ~Planner();
  Planner(const Planner&) = delete;
  Planner& operator=(const Planner&) = delete;
  /// Places entries[i] (i: the number of entries placed so far) when an
  /// earlier entry holds it whole: such an entry needs no class. Else
  /// returns false, and place(i) must follow, once entries[i] has its class.
  bool place_covered(std::uint32_t i);
  void place(std::uint32_t i);
  /// The plan of the entries placed, as plan() makes it.
  Plan finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rulec::backends::nft_merge
