// Internals shared by the Windows planner (windows_plan.cpp) and its rule
// builder (windows_rules.cpp): box operations, the pieces the planner works
// with, and their merging.
//
// The planner splits each direction's packets into regions decided by one
// rule each, merges them, and covers the passed (or blocked) ones with
// boxes; the rule builder turns each covering box into Windows rules (one
// protocol a rule, addresses per family).
#pragma once

#include <array>
#include <optional>
#include <span>
#include <vector>

#include "analysis/packetset.hpp"
#include "backends/windows_plan.hpp"

namespace rulec::backends::windows::detail {

using analysis::Box;
using analysis::Field;
using ir::U128;
inline constexpr std::size_t kFields = analysis::kFieldCount;

/// A copy of `b` with field `f` replaced by `v` (nullopt when `v` is empty).
std::optional<Box> with_field(const Box& b, Field f, std::span<const Interval> v);
bool overlaps(const Box& a, const Box& b);
std::optional<Box> intersect(const Box& a, const Box& b);
/// Appends the disjoint boxes of a - b (b known to overlap a).
void subtract(const Box& a, const Box& b, std::vector<Box>& out);
bool is_full(std::span<const Interval> v, U128 max);

/// A disjoint piece of one direction's packets and the rule that decides it.
struct Region {
  Box box;
  std::int64_t rule = -1;  ///< -1: the default
  bool pass = true;
};

/// A box a Windows rule covers, before protocols and families are split.
struct Cover {
  Box box;
  bool allow = true;
  bool any_interface = false;
  std::int64_t rule = -1;  ///< the deciding IR rule; -1 the default; kSeveralRules
};

/// Cover::rule for a box that several rules (or a rule and the default) decide.
inline constexpr std::int64_t kSeveralRules = -2;

/// Merges covering boxes that differ in one field only, until none do.
void coalesce(std::vector<Cover>& covers, U128 unnamed);

/// The Windows rules for one covering, and the rules whose SCTP ports it
/// could not match (SCTP is then not allowed, or blocked on every port).
struct Built {
  std::vector<WinRule> rules;
  std::vector<std::int64_t> sctp_ports;
};

/// Windows rules for one covering (merged first), or nullopt when there is none.
std::optional<Built> build(const ir::Policy& p, ir::Direction d, const std::optional<std::vector<Cover>>& covers);

// ---- large policies (windows_local.cpp) ----------------------------------

/// Each rule's region per direction (the packets it decides: its match
/// minus the matches that take precedence, analysis::Decisions::decided_by),
/// without the defaults' regions, in precedence order.
struct RuleRegions {
  std::array<std::vector<Region>, 2> regions;  ///< [In], [Out]
  /// Left unfinished: a rule's region split into more than
  /// `max_rule_pieces` boxes, or needed a look at more than its share of
  /// `max_looks` rules of the index (Overlap); or the regions split into
  /// more than `max_pieces` boxes in all (Pieces).
  enum class Refused { No, Overlap, Pieces } refused = Refused::No;
};
RuleRegions decide_rules(const ir::Policy& p, std::size_t max_pieces, std::size_t max_rule_pieces,
                         std::size_t max_looks);

/// Boxes binned by protocol and by destination port (each port range at
/// the finest of a few granularities that holds it whole), with their
/// address and port hulls kept apart: a question about one box only meets
/// the boxes that may overlap it. Boxes are named by the order they were
/// added in.
class BoxIndex {
 public:
  BoxIndex();
  void add(const Box& b);
  /// The ids of the added boxes that may overlap `b`: a superset of those
  /// that do, ascending, each once.
  void near(const Box& b, std::vector<std::uint32_t>& out) const;
  /// The same ids, unsorted and possibly repeated (cheaper).
  void candidates(const Box& b, std::vector<std::uint32_t>& out) const;

 private:
  /// Each field's smallest and largest value (beyond the addresses, capped at 2^32-1).
  struct Hulls {
    U128 src_lo, src_hi, dst_lo, dst_hi;
    std::array<std::uint32_t, 7> lo, hi;  // the other fields, in Field order
  };
  static Hulls hulls_of(const Box& b);
  std::vector<Hulls> hulls_;
  std::vector<std::vector<std::uint32_t>> bins_;
};

/// The boxes of a covering, indexed.
class CoverIndex {
 public:
  CoverIndex() = default;
  /// Indexes `covers` (which must outlive the index and stay unchanged).
  explicit CoverIndex(const std::vector<Cover>& covers);
  const std::vector<Cover>& covers() const { return *covers_; }
  /// The positions in covers() of the boxes that may overlap `b`, ascending.
  void near(const Box& b, std::vector<std::uint32_t>& out) const { index_.near(b, out); }

 private:
  const std::vector<Cover>* covers_ = nullptr;
  BoxIndex index_;
};

/// The parts of `box` outside the union of the disjoint boxes of `side`;
/// nullopt when they split into more than `max_pieces` on the way. The
/// boxes of `side` are met in their order, so the parts do not depend on
/// the index.
std::optional<std::vector<Box>> outside(const Box& box, const CoverIndex& side, std::size_t max_pieces);

/// The one-packet box of a packet (its interface index in the policy).
Box point_box(const analysis::Packet& p, std::uint32_t iface);

/// Covers `side` with allow (or block) rules; where a region holding
/// unnamed interfaces is written for every interface, block rules close the
/// named ones that differ. nullopt when that would need allow over block.
std::optional<std::vector<Cover>> cover_side(const ir::Policy& p, const std::vector<Cover>& side, bool allow);

}  // namespace rulec::backends::windows::detail
