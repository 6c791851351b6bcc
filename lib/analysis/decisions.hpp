// Who decides which packets: the evaluator's semantics lifted to packet sets.
//
// The evaluator (evaluator.hpp) judges one packet: the first matching `done`
// rule decides, else the last matching rule, else the direction's default.
// Decisions answers the same question for whole sets of packets, exactly,
// so lint can prove that a rule decides nothing, or that removing it changes
// no verdict. A rule only ever meets the rules the index says may touch it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/packetset.hpp"
#include "analysis/rule_index.hpp"
#include "ir/ir.hpp"

namespace rulec::analysis {

/// What deciding a packet does: the action, and for pass whether state is kept.
struct Effect {
  ir::Action action = ir::Action::Pass;
  bool state = false;
  friend bool operator==(const Effect&, const Effect&) = default;
};

/// A part of a set decided by one rule or by a direction's default.
struct Decision {
  std::int64_t rule = -1;  ///< IR rule index; -1 for a default
  ir::Direction direction = ir::Direction::In;  ///< the default's direction when rule == -1
  PacketSet packets;
};

class Decisions {
 public:
  explicit Decisions(const ir::Policy& policy);

  const ir::Policy& policy() const { return policy_; }
  /// The packets IR rule `r` matches.
  const PacketSet& match(std::uint32_t r) const { return matches_[r]; }
  /// The precedence rank of IR rule `r`: 0 decides first (the first `done`
  /// rule), then the other `done` rules in order, then the rules without
  /// `done` from the last to the first. The matching rule of lowest rank
  /// decides a packet.
  std::uint32_t rank(std::uint32_t r) const { return rank_[r]; }
  /// Calls `take(k)` for up to `want` live IR rules k with a rank in
  /// [lo, hi] that `usable` accepts and that share packets with `set`,
  /// nearest to `lo` first (to `hi` when `from_lo` is false), until `take`
  /// returns false. Looks at no more than kMaxNearest rules, so it may miss
  /// some, never names a wrong one.
  template <typename Usable, typename Take>
  void nearest(const PacketSet& set, std::uint32_t lo, std::uint32_t hi, bool from_lo, std::size_t want,
               Usable usable, Take take) const {
    if (want == 0 || set.empty()) return;
    index_->in_rank_order(
        RuleIndex::query_of(set), lo, hi, from_lo,
        [&](std::uint32_t k) {
          if (dead(k) || !usable(k) || !set.intersects(matches_[k])) return true;
          return take(k) && --want > 0;
        },
        kMaxNearest);
  }
  static constexpr std::size_t kMaxNearest = 4096;

  /// Takes a source rule out of the policy for every later question, as if
  /// it were deleted. Lint removes each rule it reports as shadowed or
  /// redundant, so that its findings hold together: deleting every reported
  /// rule at once changes no verdict.
  void remove(std::uint32_t source_rule);
  /// Removes at once every source rule whose IR rules each lie inside one
  /// rule of higher precedence (most rules that decide nothing), and files
  /// the index anew without them, so that no later question meets
  /// them. Removing a rule that decides nothing changes no other rule's
  /// decisions, so this is the same as removing them one by one later.
  /// Call it once, before any remove().
  /// Returns, per source rule, the rules found holding its IR rules (empty
  /// for the rules kept).
  std::vector<std::vector<std::uint32_t>> remove_covered();
  /// Looking for one rule that holds a whole set, no more rules than this
  /// are tried (the answer is then "none found", and the set is worked out
  /// the long way).
  static constexpr std::size_t kMaxHolderAsks = 4096;
  /// From this many IR rules on, remove_covered searches on two threads (and
  /// lint shares its passes with a second thread).
  static constexpr std::size_t kTwoThreads = 2000;
  /// True when a source rule (one with IR rules) is removed.
  bool removed(std::uint32_t source_rule) const {
    const auto& rules = by_source_[source_rule];
    return !rules.empty() && dead(rules.front());
  }
  /// True when IR rule `r`'s source rule is removed; safe to ask from a
  /// second thread while remove() runs.
  bool dead(std::uint32_t r) const { return dead_[r].load(std::memory_order_relaxed); }
  /// The IR rules lowered from one source rule.
  const std::vector<std::uint32_t>& rules_of(std::uint32_t source_rule) const { return by_source_[source_rule]; }
  std::size_t source_rule_count() const { return by_source_.size(); }

  Effect effect_of_rule(std::uint32_t r) const;
  Effect effect_of(const Decision& d) const;

  /// The packets of `within` (a subset of rule r's match; all of it when
  /// omitted) that IR rule `r` decides. `takers`, when given, receives the
  /// rules that took packets of it away. nullopt when the result would
  /// split into more than `budget` boxes (the question is then left open).
  /// Also nullopt when the answer needs a look at more than `max_looks`
  /// rules of the index.
  std::optional<PacketSet> decided_by(std::uint32_t r, std::vector<std::uint32_t>* takers = nullptr,
                                      std::size_t budget = SIZE_MAX, const PacketSet* within = nullptr,
                                      std::size_t max_looks = SIZE_MAX) const;
  /// The packets of `set` no rule matches (the defaults decide them); nullopt past `budget` boxes.
  std::optional<PacketSet> unmatched(const PacketSet& set, std::size_t budget) const;

  /// The packets IR rule `r` decides among a few probed packets of its match
  /// (its witness first); none proves nothing (use decided_by for a proof).
  std::vector<Packet> decided_probes(std::uint32_t r) const;
  /// A few packets spread over a set (corners and middles of its first boxes).
  std::vector<Packet> probes(const PacketSet& set) const;

  /// Splits `set` by the rule or default that decides each packet. Rules of
  /// source rule `without` are ignored, as if it were removed.
  /// Rules of rank below `from_rank` are taken to share no packet with
  /// `set` (true of the packets a rule of that rank decides).
  /// `*complete` (when given) is set false when the split needed a look at
  /// more than `max_looks` rules of the index and was left unfinished.
  /// With `all_as`, for "does every packet get this effect": the parts
  /// carry no packets, and the split stops at the first part whose effect
  /// differs (the last one returned).
  std::vector<Decision> decide(const PacketSet& set, std::optional<std::uint32_t> without = std::nullopt,
                               std::uint32_t from_rank = 0, std::size_t max_looks = SIZE_MAX,
                               bool* complete = nullptr, const Effect* all_as = nullptr) const;

  /// A part of `set` whose deciding rule or default has an effect `wanted`
  /// accepts, or nullopt when there is none. Cheaper than decide() on large
  /// sets: it probes a few packets, then looks only at the packets of each
  /// rule that could qualify. Gives up (nullopt, `*gave_up` set) rather than
  /// visit more than a few thousand rules or split a set into more than a
  /// few hundred pieces: a nullopt with `*gave_up` proves nothing.
  template <typename Wanted>
  std::optional<Decision> find(const PacketSet& set, Wanted wanted, bool* gave_up = nullptr) const;

  /// The deciding IR rule for one packet (-1: the default), ignoring source rule `without`.
  std::int64_t decider(const Packet& p, std::optional<std::uint32_t> without = std::nullopt) const;

 private:
  /// The packets of `set` that no live rule of rank at most `last_rank`
  /// matches; nullopt past `budget` boxes. `takers` receives the rules that
  /// took some, in rank order. Only the rules `which` picks take packets.
  std::optional<PacketSet> carve(const PacketSet& set, std::uint32_t last_rank, std::size_t budget,
                                 std::vector<std::uint32_t>* takers, std::size_t max_looks = SIZE_MAX,
                                 RuleIndex::Which which = RuleIndex::Which::All) const;
  /// The live rule of lowest rank below `limit` that holds all of `set` (not
  /// empty); -1 or -2 (gave up after kMaxHolderAsks rules) when none is found.
  std::int64_t holder_of(const PacketSet& set, std::uint32_t limit) const;
  /// The witness of rule r's match, then the corners and middles of its first boxes.
  std::vector<Point> probe_points_of(std::uint32_t r) const;
  /// The live rule of lowest rank below `limit` that holds the point (-1:
  /// none); rules of source rule `without` are left out.
  std::int64_t first_holding(const Point& v, std::uint32_t limit, std::optional<std::uint32_t> without) const;

  const ir::Policy& policy_;
  std::vector<PacketSet> matches_;
  std::vector<std::uint32_t> rank_;
  std::unique_ptr<RuleIndex> index_;
  std::vector<std::vector<std::uint32_t>> by_source_;
  /// Per IR rule: its source rule is removed. Atomic: lint asks about the
  /// rules ahead on a second thread while the first removes rules.
  std::unique_ptr<std::atomic<bool>[]> dead_;
  /// What the broad rules take from boxes of each shape (broad_carve.cpp),
  /// per thread: it survives removals but those of the rules that took part.
  struct BroadSteps;
  struct BroadShapes;
  struct BroadMemo;
  static std::shared_ptr<BroadMemo> make_broad_memo();
  std::shared_ptr<BroadMemo> broad_ = make_broad_memo();
  /// A shape's steps, carried on as far as `last_rank`.
  BroadSteps& broad_steps(const Box& shape, std::string key, std::uint32_t last_rank) const;
  /// The packets of `set` that no live broad rule of rank at most
  /// `last_rank` takes, as carve() over those rules alone finds them; the takers in
  /// rank order. nullopt past `budget` boxes or when the carve was cut short.
  std::optional<PacketSet> broad_carve(const PacketSet& set, std::uint32_t last_rank, std::size_t budget,
                                       std::vector<std::uint32_t>* takers) const;
  /// The memo starts again past this many kept boxes (about 340 bytes each).
  static constexpr std::size_t kMaxBroadBoxes = 200000;
  /// A shape's carve stops when its rest splits into more boxes than this, or
  static constexpr std::size_t kMaxBroadSplit = 512;
  /// after looking at this many rules of the index.
  static constexpr std::size_t kMaxBroadLooks = 16384;
  /// Per IR rule: remove_covered found that no rule of higher precedence holds it.
  std::vector<bool> holderless_;
};

template <typename Wanted>
std::optional<Decision> Decisions::find(const PacketSet& set, Wanted wanted, bool* gave_up) const {
  constexpr std::size_t kBudget = 512, kMaxRules = 256, kMaxVisits = 4096;
  if (gave_up) *gave_up = false;
  for (const Packet& p : probes(set)) {
    Decision d{decider(p), p.direction, {}};
    if (!wanted(effect_of(d))) continue;
    d.packets = PacketSet::of(p, policy_);
    if (!d.packets.empty()) return d;
  }
  // Rules whose effect qualifies and that share packets with the set; the
  // search stops (and gives up) after looking at kMaxVisits rules of the index.
  std::vector<std::uint32_t> cands;
  bool complete = index_->in_rank_order(
      RuleIndex::query_of(set), 0, UINT32_MAX, true,
      [&](std::uint32_t k) {
        if (cands.size() >= kMaxRules) {
          if (gave_up) *gave_up = true;
          return false;
        }
        if (!dead(k) && wanted(effect_of_rule(k)) && set.intersects(matches_[k]))
          cands.push_back(k);
        return true;
      },
      kMaxVisits);
  if (!complete && gave_up) *gave_up = true;
  std::sort(cands.begin(), cands.end());
  for (std::uint32_t k : cands) {
    PacketSet within = set & matches_[k];
    auto part = decided_by(k, nullptr, kBudget, &within);
    if (part && !part->empty()) return Decision{k, ir::Direction::In, std::move(*part)};
    if (!part && gave_up) *gave_up = true;
  }
  for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) {
    Decision d{-1, dir, {}};
    if (!wanted(effect_of(d))) continue;
    auto rest = unmatched(set & PacketSet::of(dir, policy_), kBudget);
    if (!rest) {
      if (gave_up) *gave_up = true;
      continue;
    }
    if (!rest->empty()) return Decision{-1, dir, std::move(*rest)};
  }
  return std::nullopt;
}

}  // namespace rulec::analysis
