// Who decides which packets: the evaluator's semantics lifted to packet sets.
//
// The evaluator (evaluator.hpp) judges one packet: the first matching `done`
// rule decides, else the last matching rule, else the direction's default.
// Decisions answers the same question for whole sets of packets, exactly,
// so lint can prove that a rule decides nothing, or that removing it changes
// no verdict. A rule only ever meets the rules the index says may touch it.
#pragma once

#include <cstdint>
#include <optional>
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
  /// IR rules that may share packets with `set` (see RuleIndex), leaving out removed ones.
  std::vector<std::uint32_t> candidates(const PacketSet& set) const;

  /// Takes a source rule out of the policy for every later question, as if
  /// it were deleted. Lint removes each rule it reports as shadowed or
  /// redundant, so that its findings hold together: deleting every reported
  /// rule at once changes no verdict.
  void remove(std::uint32_t source_rule);
  bool removed(std::uint32_t source_rule) const { return removed_[source_rule]; }
  /// The IR rules lowered from one source rule.
  const std::vector<std::uint32_t>& rules_of(std::uint32_t source_rule) const { return by_source_[source_rule]; }
  std::size_t source_rule_count() const { return by_source_.size(); }

  Effect effect_of_rule(std::uint32_t r) const;
  Effect effect_of(const Decision& d) const;

  /// The packets IR rule `r` decides. `deciders`, when given, receives the
  /// candidate rules that took packets of its match from it.
  PacketSet decided_by(std::uint32_t r, std::vector<std::uint32_t>* takers = nullptr) const;

  /// A packet IR rule `r` decides, found by probing a few packets of its
  /// match; nullopt proves nothing (use decided_by for a proof).
  std::optional<Packet> probe(std::uint32_t r) const;

  /// Splits `set` by the rule or default that decides each packet. Rules of
  /// source rule `without` are ignored, as if it were removed.
  std::vector<Decision> decide(const PacketSet& set, std::optional<std::uint32_t> without = std::nullopt) const;

  /// The deciding IR rule for one packet (-1: the default), ignoring source rule `without`.
  std::int64_t decider(const Packet& p, std::optional<std::uint32_t> without = std::nullopt) const;

 private:
  const ir::Policy& policy_;
  std::vector<PacketSet> matches_;
  RuleIndex index_;
  std::vector<std::vector<std::uint32_t>> by_source_;
  std::vector<bool> removed_;
};

}  // namespace rulec::analysis
