// Large policies for Windows: regions rule by rule, without the default's.
//
// The planner's first method splits all of a direction's packets, the
// default's region included, and that region fragments with every rule. For
// large policies the planner instead computes each rule's own region (its
// match minus the matches that take precedence over it), which stays small,
// and covers only the verdict opposite to the default, which is exactly
// what the rules decide: allow rules under a default of Block, block rules
// under a default of Allow. Questions about the other verdict become
// subtractions from the covered side. The regions come from
// analysis::Decisions (the rules one rule holds whole set aside first, an
// index of the rules, what the broad rules take worked out once per
// shape); the covering boxes are indexed by protocol, destination port and
// address hulls (BoxIndex), so a question meets only the boxes near it.
#include <algorithm>
#include <array>
#include <atomic>

#include "analysis/decisions.hpp"
#include "analysis/packetset.hpp"
#include "analysis/side_by_side.hpp"
#include "backends/windows_internal.hpp"

namespace rulec::backends::windows::detail {
namespace values = analysis::values;

namespace {

constexpr std::size_t kMaxProbedBoxes = 256;

/// One packet of `set` that rule `r` decides, among a few probed ones
/// (corners and middles of its first boxes), as a one-packet set.
std::optional<analysis::PacketSet> probe(const analysis::Decisions& decisions, std::uint32_t r,
                                         const analysis::PacketSet& set) {
  for (const analysis::Packet& packet : decisions.probes(set))
    if (decisions.decider(packet) == r) {
      analysis::PacketSet one = analysis::PacketSet::of(packet, decisions.policy());
      if (!one.empty() && decisions.match(r).contains(one)) return one;
    }
  return std::nullopt;
}

/// Some packets rule `r` decides (none when it decides none), for a rule
/// whose packets are not covered: a probed packet when one proves that it
/// decides some, else what it decides; its whole match when that splits
/// into more than `max_pieces` boxes (it may then decide none: only its
/// reject and log findings can be wrong, and only by being reported).
analysis::PacketSet some_decided(const analysis::Decisions& decisions, std::uint32_t r, std::size_t max_pieces,
                                 std::size_t looks) {
  const analysis::PacketSet& match = decisions.match(r);
  if (auto one = probe(decisions, r, match)) return *one;
  constexpr std::size_t kQuick = 64;  // most rules: settled before they split into more pieces
  std::vector<std::uint32_t> takers;
  if (auto quick = decisions.decided_by(r, &takers, kQuick, nullptr, looks)) return *quick;
  // The rules that took packets before it split too much leave pieces whose
  // middles often lie between the addresses the others name.
  analysis::PacketSet rest = match;
  for (std::uint32_t k : takers) {
    analysis::PacketSet next = rest;
    next.subtract(decisions.match(k));
    if (next.empty() || next.boxes().size() > kMaxProbedBoxes) break;
    rest = std::move(next);
  }
  for (std::size_t first = 0; first < rest.boxes().size(); first += 4) {
    analysis::PacketSet few;
    for (std::size_t b = first; b < std::min(first + 4, rest.boxes().size()); ++b) few.add_disjoint(rest.boxes()[b]);
    if (auto one = probe(decisions, r, few)) return *one;
  }
  auto all = decisions.decided_by(r, nullptr, max_pieces, nullptr, looks);
  return all ? *all : match;
}

}  // namespace

RuleRegions decide_rules(const ir::Policy& p, std::size_t max_pieces, std::size_t max_rule_pieces,
                         std::size_t max_looks) {
  analysis::Decisions decisions(p);
  decisions.remove_covered();  // the rules one rule of higher precedence holds whole decide nothing
  std::vector<std::uint32_t> live;  // in precedence order, so regions come out in that order
  for (std::uint32_t r = 0; r < p.rules.size(); ++r)
    if (!decisions.dead(r) && !decisions.match(r).empty()) live.push_back(r);
  std::sort(live.begin(), live.end(),
            [&](std::uint32_t a, std::uint32_t b) { return decisions.rank(a) < decisions.rank(b); });
  // Each rule may look at its share of max_looks rules of the index: the
  // whole stays within max_looks, whatever the rules.
  const std::size_t looks = std::max<std::size_t>(max_looks / std::max<std::size_t>(live.size(), 1), 1);
  // The packets each rule decides are needed exactly where its verdict is
  // not the default's (they are covered), and for a pass without state
  // (its replies are followed); elsewhere only whether it decides any.
  std::vector<bool> exact(live.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    const ir::Rule& r = p.rules[live[i]];
    bool pass = r.action == ir::Action::Pass;
    exact[i] = pass && !r.state;
    for (auto d : {ir::Direction::In, ir::Direction::Out})
      if (ir::field_contains(r.match.directions, static_cast<std::uint8_t>(d)) &&
          pass != (p.default_for(d).action == ir::Action::Pass))
        exact[i] = true;
  }
  std::vector<std::optional<analysis::PacketSet>> decided(live.size());
  std::atomic<bool> failed{false};
  std::atomic<std::size_t> pieces{0};
  auto work = [&](std::size_t first, std::size_t step) {
    for (std::size_t i = first; i < live.size() && !failed.load(std::memory_order_relaxed); i += step) {
      decided[i] = exact[i] ? decisions.decided_by(live[i], nullptr, max_rule_pieces, nullptr, looks)
                            : some_decided(decisions, live[i], max_rule_pieces, looks);
      if (!decided[i] || (pieces += decided[i]->boxes().size()) > max_pieces) failed = true;
    }
  };
  if (live.size() < analysis::Decisions::kTwoThreads) work(0, 1);
  else analysis::side_by_side([&] { work(1, 2); }, [&] { work(0, 2); });
  RuleRegions out;
  if (failed) {
    out.refused = pieces > max_pieces ? RuleRegions::Refused::Pieces : RuleRegions::Refused::Overlap;
    return out;
  }
  for (std::size_t i = 0; i < live.size(); ++i) {
    const ir::Rule& r = p.rules[live[i]];
    for (const Box& b : decided[i]->boxes()) {
      auto dirs = b[Field::Direction];
      for (int d = 0; d < 2; ++d) {
        const std::vector<Interval> dir{{static_cast<U128>(d), static_cast<U128>(d)}};
        if (!values::overlap(dirs, dir)) continue;
        auto own = dirs.size() == 1 && dirs[0].lo == dirs[0].hi ? b : *with_field(b, Field::Direction, dir);
        out.regions[d].push_back({std::move(own), live[i], r.action == ir::Action::Pass});
      }
    }
    decided[i].reset();
  }
  return out;
}

namespace {

constexpr std::array<unsigned, 8> kIndexProtos = {6, 17, 1, 58, 47, 50, 51, 132};
constexpr std::size_t kProtoClasses = kIndexProtos.size() + 1;
/// Port granularities: a range goes to the finest whose block holds it whole.
constexpr std::array<unsigned, 4> kShifts = {4, 8, 12, 16};
constexpr std::array<std::size_t, 5> kLevelStart = {0, 4096, 4096 + 256, 4096 + 256 + 16, 4096 + 256 + 16 + 1};
constexpr std::size_t kPortBins = kLevelStart.back();

/// The protocols of class k: one of kIndexProtos, or (k == 8) all the others.
const std::vector<Interval>& protocol_class(std::size_t k) {
  static const auto classes = [] {
    std::array<std::vector<Interval>, kProtoClasses> out;
    std::vector<Interval> rest{{0, 255}};
    for (std::size_t i = 0; i < kIndexProtos.size(); ++i) {
      out[i] = {{kIndexProtos[i], kIndexProtos[i]}};
      rest = values::subtract(rest, out[i]);
    }
    out[kIndexProtos.size()] = rest;
    return out;
  }();
  return classes[k];
}

/// The port bin of a range of destination ports.
std::size_t port_bin(const Interval& r) {
  auto lo = static_cast<unsigned>(std::min<U128>(r.lo, 65535)), hi = static_cast<unsigned>(std::min<U128>(r.hi, 65535));
  for (std::size_t l = 0; l < kShifts.size(); ++l)
    if (lo >> kShifts[l] == hi >> kShifts[l]) return kLevelStart[l] + (lo >> kShifts[l]);
  return kPortBins - 1;
}

template <typename T>
bool apart(T alo, T ahi, T blo, T bhi) {
  return ahi < blo || bhi < alo;
}

}  // namespace

BoxIndex::BoxIndex() : bins_(kProtoClasses * kPortBins) {}

/// The fields a Hulls keeps in 32 bits, and where.
constexpr std::array<Field, 7> kSmallFields = {Field::Dport, Field::Protocol, Field::Family, Field::Interface,
                                               Field::Sport, Field::IcmpType, Field::Direction};
constexpr std::size_t kDport = 0;

BoxIndex::Hulls BoxIndex::hulls_of(const Box& b) {
  Hulls h{b.hull(Field::Src).lo, b.hull(Field::Src).hi, b.hull(Field::Dst).lo, b.hull(Field::Dst).hi, {}, {}};
  for (std::size_t i = 0; i < kSmallFields.size(); ++i) {
    Interval r = b.hull(kSmallFields[i]);
    h.lo[i] = static_cast<std::uint32_t>(std::min<U128>(r.lo, 0xffffffffu));
    h.hi[i] = static_cast<std::uint32_t>(std::min<U128>(r.hi, 0xffffffffu));
  }
  return h;
}

void BoxIndex::add(const Box& b) {
  auto id = static_cast<std::uint32_t>(hulls_.size());
  hulls_.push_back(hulls_of(b));
  for (std::size_t k = 0; k < kProtoClasses; ++k) {
    if (!values::overlap(b[Field::Protocol], protocol_class(k))) continue;
    for (const Interval& r : b[Field::Dport]) {
      auto& bin = bins_[k * kPortBins + port_bin(r)];
      if (bin.empty() || bin.back() != id) bin.push_back(id);
    }
  }
}

void BoxIndex::near(const Box& b, std::vector<std::uint32_t>& out) const {
  candidates(b, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

void BoxIndex::candidates(const Box& b, std::vector<std::uint32_t>& out) const {
  out.clear();
  const Hulls q = hulls_of(b);
  for (std::size_t k = 0; k < kProtoClasses; ++k) {
    if (!values::overlap(b[Field::Protocol], protocol_class(k))) continue;
    for (std::size_t l = 0; l < kShifts.size(); ++l) {
      unsigned s = kShifts[l];
      std::size_t first = kLevelStart[l] + (std::min(q.lo[kDport], 65535u) >> s);
      std::size_t last = kLevelStart[l] + (std::min(q.hi[kDport], 65535u) >> s);
      for (std::size_t j = first; j <= last; ++j)
        for (std::uint32_t id : bins_[k * kPortBins + j]) {
          const Hulls& h = hulls_[id];
          bool miss = apart(h.dst_lo, h.dst_hi, q.dst_lo, q.dst_hi) || apart(h.src_lo, h.src_hi, q.src_lo, q.src_hi);
          for (std::size_t i = 0; i < kSmallFields.size() && !miss; ++i) miss = h.hi[i] < q.lo[i] || q.hi[i] < h.lo[i];
          if (miss) continue;
          out.push_back(id);
        }
    }
  }
}

CoverIndex::CoverIndex(const std::vector<Cover>& covers) : covers_(&covers) {
  for (const Cover& c : covers) index_.add(c.box);
}

Box point_box(const analysis::Packet& p, std::uint32_t iface) {
  const U128 v[kFields] = {U128(static_cast<int>(p.direction)), iface, U128(static_cast<int>(p.family)),
                           p.protocol, p.src, p.dst, p.sport, p.dport, p.icmp_type};
  Box::Builder b;
  for (U128 x : v) b.add(std::vector<Interval>{{x, x}});
  return b.take();
}

std::optional<std::vector<Box>> outside(const Box& box, const CoverIndex& side, std::size_t max_pieces) {
  std::vector<std::uint32_t> ids;
  side.near(box, ids);
  std::erase_if(ids, [&](std::uint32_t id) { return !overlaps(box, side.covers()[id].box); });
  for (std::uint32_t id : ids)
    if (side.covers()[id].box.covers(box)) return std::vector<Box>{};
  std::vector<Box> rest{box}, next;
  for (std::uint32_t id : ids) {
    const Box& c = side.covers()[id].box;
    if (rest.empty()) break;
    next.clear();
    for (Box& a : rest) {
      if (!overlaps(a, c)) {
        next.push_back(std::move(a));
        continue;
      }
      subtract(a, c, next);
    }
    rest.swap(next);
    if (rest.size() > max_pieces) return std::nullopt;
  }
  return rest;
}

std::optional<std::vector<Cover>> cover_side(const ir::Policy& p, const std::vector<Cover>& side, bool allow) {
  const auto n = static_cast<U128>(p.interfaces.size());
  const std::vector<Interval> named{{0, n == 0 ? 0 : n - 1}};
  const CoverIndex index(side);
  std::vector<Cover> out;
  for (const Cover& c : side) {
    auto ifs = c.box[Field::Interface];
    bool unnamed = ifs.back().hi >= n;
    out.push_back({c.box, allow, unnamed, c.rule});
    if (!unnamed || n == 0 || (ifs.front().lo == 0 && ifs.size() == 1)) continue;
    // Written for every interface: the named ones where the verdict differs are closed again.
    auto part = with_field(c.box, Field::Interface, named);
    if (!part) continue;
    std::vector<Box> differ = *outside(*part, index, SIZE_MAX);
    if (!differ.empty() && !allow) return std::nullopt;
    for (Box& b : differ) out.push_back({std::move(b), false, false, c.rule});
  }
  return out;
}

}  // namespace rulec::backends::windows::detail
