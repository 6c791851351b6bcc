// The rule index: a static box tree over the rules' hulls.
#include "analysis/rule_index.hpp"

#include <algorithm>

namespace rulec::analysis {

namespace {

constexpr std::uint32_t kLeafSize = 8;
/// The fields nodes split on, in turn (the ones that tell rules apart most).
constexpr Field kSplitOrder[] = {Field::Dst, Field::Src, Field::Dport, Field::Protocol, Field::Interface,
                                 Field::Direction};

ir::U128 centre(const Interval& i) { return i.lo / 2 + i.hi / 2 + (i.lo & i.hi & 1); }

}  // namespace

bool RuleIndex::overlap(const Hull& a, const Hull& b) {
  constexpr std::size_t order[] = {5, 4, 7, 3, 0, 1, 6, 2, 8};  // the fields that differ most often first
  for (std::size_t f : order)
    if (a[f].hi < b[f].lo || b[f].hi < a[f].lo) return false;
  return true;
}

void RuleIndex::add_hulls(const PacketSet& s, std::uint32_t rule) {
  constexpr std::size_t kMaxPerField = 8, kMaxPerRule = 64;
  std::size_t before = hulls_.size();
  for (const Box& b : s.boxes()) {
    Hull h;
    for (std::size_t f = 0; f < kFieldCount; ++f) h[f] = b.hull(static_cast<Field>(f));
    // One hull per (port range, destination range, source range), when few.
    auto ranges = [&](Field f) {
      auto v = b[f];
      return v.size() <= kMaxPerField ? std::vector<Interval>(v.begin(), v.end()) : std::vector<Interval>{b.hull(f)};
    };
    auto ports = ranges(Field::Dport), dsts = ranges(Field::Dst), srcs = ranges(Field::Src);
    if (ports.size() * dsts.size() * srcs.size() > kMaxPerRule) ports = {b.hull(Field::Dport)}, dsts = {b.hull(Field::Dst)}, srcs = {b.hull(Field::Src)};
    for (const Interval& p : ports)
      for (const Interval& d : dsts)
        for (const Interval& sr : srcs) {
          h[static_cast<std::size_t>(Field::Dport)] = p;
          h[static_cast<std::size_t>(Field::Dst)] = d;
          h[static_cast<std::size_t>(Field::Src)] = sr;
          hulls_.push_back(h);
          owner_.push_back(rule);
        }
  }
  if (hulls_.size() - before > kMaxPerRule) {  // many boxes: one hull for the whole rule
    hulls_.resize(before);
    owner_.resize(before);
    Hull h;
    for (std::size_t f = 0; f < kFieldCount; ++f) h[f] = s.hull(static_cast<Field>(f));
    hulls_.push_back(h);
    owner_.push_back(rule);
  }
}

RuleIndex::RuleIndex(const std::vector<PacketSet>& matches) : seen_(matches.size(), 0) {
  for (std::uint32_t r = 0; r < matches.size(); ++r) add_hulls(matches[r], r);
  rules_.resize(hulls_.size());
  for (std::uint32_t e = 0; e < rules_.size(); ++e) rules_[e] = e;
  if (!rules_.empty()) build(0, static_cast<std::uint32_t>(rules_.size()), 0);
}

std::uint32_t RuleIndex::build(std::uint32_t first, std::uint32_t count, std::size_t depth) {
  auto id = static_cast<std::uint32_t>(nodes_.size());
  nodes_.emplace_back();
  Hull box = hulls_[rules_[first]];
  for (std::uint32_t i = first; i < first + count; ++i)
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      box[f].lo = std::min(box[f].lo, hulls_[rules_[i]][f].lo);
      box[f].hi = std::max(box[f].hi, hulls_[rules_[i]][f].hi);
    }
  nodes_[id].box = box;
  auto begin = rules_.begin() + first, end = begin + count;
  // The first field, in turn, along which these rules are not all alike.
  std::size_t f = kFieldCount;
  for (std::size_t t = 0; t < std::size(kSplitOrder) && f == kFieldCount; ++t) {
    auto g = static_cast<std::size_t>(kSplitOrder[(depth + t) % std::size(kSplitOrder)]);
    auto differs = [&](std::uint32_t r) { return hulls_[r][g] != hulls_[*begin][g]; };
    if (std::any_of(begin, end, differs)) f = g;
  }
  if (count <= kLeafSize || f == kFieldCount || depth > 200) {
    nodes_[id].first = first;
    nodes_[id].count = count;
    return id;
  }
  // Rules wider than a quarter of the node's extent in f get a child of their own.
  ir::U128 extent = box[f].hi - box[f].lo, quarter = extent / 4;
  auto wide_end = std::partition(begin, end, [&](std::uint32_t r) { return hulls_[r][f].hi - hulls_[r][f].lo > quarter; });
  auto wide = static_cast<std::uint32_t>(wide_end - begin);
  if (wide == count) {  // all wide here: split them on the next field
    std::uint32_t c = build(first, count, depth + 1);
    nodes_[id].children[0] = c;
    return id;
  }
  auto narrow = count - wide;
  auto mid = wide_end + narrow / 2;
  std::nth_element(wide_end, mid, end, [&](std::uint32_t a, std::uint32_t b) {
    return centre(hulls_[a][f]) < centre(hulls_[b][f]);
  });
  std::array<std::uint32_t, 3> children{kNone, kNone, kNone};
  if (wide) children[0] = build(first, wide, depth + 1);
  if (narrow / 2) children[1] = build(first + wide, narrow / 2, depth + 1);
  children[2] = build(first + wide + narrow / 2, narrow - narrow / 2, depth + 1);
  nodes_[id].children = children;
  return id;
}

std::vector<std::uint32_t> RuleIndex::candidates(const PacketSet& set) const {
  std::vector<std::uint32_t> out;
  for_each_candidate(set, [&](std::uint32_t r) {
    out.push_back(r);
    return true;
  });
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rulec::analysis
