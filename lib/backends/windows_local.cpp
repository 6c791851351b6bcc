// Large policies for Windows: regions rule by rule, without the default's.
//
// The planner's first method splits all of a direction's packets, the
// default's region included, and that region fragments with every rule. For
// large policies the planner instead computes each rule's own region (its
// match minus the matches that take precedence over it), which stays small,
// and covers only the verdict opposite to the default, which is exactly
// what the rules decide: allow rules under a default of Block, block rules
// under a default of Allow. Questions about the other verdict become
// subtractions from the covered side. Earlier matches and covering boxes
// are indexed by protocol, destination port and address hulls
// (BoxIndex), so a rule only meets the boxes near it.
#include <algorithm>
#include <array>

#include "analysis/packetset.hpp"
#include "backends/windows_internal.hpp"

namespace rulec::backends::windows::detail {
namespace values = analysis::values;

namespace {

/// True when every packet of `inner` is in `outer`.
bool within(const Box& inner, const Box& outer) {
  for (std::size_t f = 0; f < kFields; ++f)
    if (!values::covers(outer[static_cast<Field>(f)], inner[static_cast<Field>(f)])) return false;
  return true;
}

/// `m` minus the boxes of `ids` that cover it in every field but one: each
/// such box only narrows that field, and they narrow it together (a policy
/// of many hosts blocked before a wide pass would otherwise cut the pass
/// once per host, each cut copying the hosts left). Removes those ids;
/// nullopt when nothing is left (or one box covers m whole).
std::optional<Box> narrow(const Box& m, const std::vector<Box>& boxes, std::vector<std::uint32_t>& ids,
                          std::array<std::vector<Interval>, kFields>& apart) {
  for (auto& a : apart) a.clear();
  bool narrowed = false, gone = false;
  std::erase_if(ids, [&](std::uint32_t id) {
    const Box& e = boxes[id];
    std::size_t outside = kFields, count = 0;
    for (std::size_t f = 0; f < kFields && count < 2; ++f)
      if (!values::covers(e[static_cast<Field>(f)], m[static_cast<Field>(f)])) {
        outside = f;
        ++count;
      }
    if (count == 0) gone = true;
    if (count != 1) return count == 0;
    auto v = e[static_cast<Field>(outside)];
    apart[outside].insert(apart[outside].end(), v.begin(), v.end());
    narrowed = true;
    return true;
  });
  if (gone) return std::nullopt;
  if (!narrowed) return m;
  Box::Builder out;
  for (std::size_t f = 0; f < kFields; ++f) {
    auto& a = apart[f];
    if (a.empty()) {
      out.add(m[static_cast<Field>(f)]);
      continue;
    }
    if (!out.add(values::subtract(m[static_cast<Field>(f)], values::unite(a, {})))) return std::nullopt;
  }
  return out.take();
}

/// Appends to `out` the parts of `m` outside the boxes of `ids` (ascending).
/// Each part first drops the boxes it misses and narrows by those that
/// differ from it in one field only, then the first remaining box splits it
/// and each piece goes on with the rest. False beyond `max_pieces` pieces.
bool cut(const Box& m, const std::vector<Box>& boxes, std::vector<std::uint32_t> ids, std::vector<Box>& out,
         std::size_t max_pieces) {
  struct Work {
    Box piece;
    std::vector<std::uint32_t> ids;
  };
  std::array<std::vector<Interval>, kFields> apart;
  std::vector<Work> work;
  work.push_back({m, std::move(ids)});
  std::vector<Box> split;
  while (!work.empty()) {
    Work w = std::move(work.back());
    work.pop_back();
    std::erase_if(w.ids, [&](std::uint32_t id) { return !overlaps(w.piece, boxes[id]); });
    auto a = narrow(w.piece, boxes, w.ids, apart);
    if (!a) continue;  // nothing of it is left
    std::erase_if(w.ids, [&](std::uint32_t id) { return !overlaps(*a, boxes[id]); });
    if (w.ids.empty()) {
      out.push_back(std::move(*a));
      continue;
    }
    split.clear();
    subtract(*a, boxes[w.ids.front()], split);
    if (out.size() + work.size() + split.size() > max_pieces) return false;
    std::vector<std::uint32_t> rest(w.ids.begin() + 1, w.ids.end());
    for (Box& p : split) work.push_back({std::move(p), rest});
  }
  return true;
}

}  // namespace

std::optional<std::vector<Region>> decide_rules(const ir::Policy& p, ir::Direction d,
                                                const std::vector<std::uint32_t>& order, std::size_t max_pieces,
                                                std::size_t& budget) {
  const std::vector<Interval> dir{{static_cast<U128>(d), static_cast<U128>(d)}};
  BoxIndex earlier;  // the matches before this rule's, in `matches`
  std::vector<Box> matches;
  std::vector<std::uint32_t> ids;
  std::vector<Region> out;
  std::vector<Box> pieces;
  for (std::uint32_t i : order) {
    const ir::Rule& r = p.rules[i];
    if (!ir::field_contains(r.match.directions, static_cast<std::uint8_t>(d))) continue;
    std::vector<Box> match;
    analysis::PacketSet set = analysis::PacketSet::of(r.match, p);
    for (const Box& b : set.boxes())
      if (auto own = with_field(b, Field::Direction, values::intersect(b[Field::Direction], dir)))
        match.push_back(std::move(*own));
    for (const Box& m : match) {
      earlier.near(m, ids);
      if (ids.size() > budget) {
        budget = 0;
        return std::nullopt;
      }
      budget -= ids.size();
      pieces.clear();
      if (!cut(m, matches, ids, pieces, max_pieces)) return std::nullopt;
      for (Box& a : pieces) out.push_back({std::move(a), i, r.action == ir::Action::Pass});
    }
    for (Box& m : match) {
      earlier.add(m);
      matches.push_back(std::move(m));
    }
    if (out.size() > max_pieces) return std::nullopt;
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
    if (within(box, side.covers()[id].box)) return std::vector<Box>{};
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
