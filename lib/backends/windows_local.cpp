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

std::optional<std::vector<Region>> decide_rules(const ir::Policy& p, ir::Direction d,
                                                const std::vector<std::uint32_t>& order, std::size_t max_pieces) {
  const std::vector<Interval> dir{{static_cast<U128>(d), static_cast<U128>(d)}};
  BoxIndex earlier;  // the matches before this rule's, in `matches`
  std::vector<Box> matches;
  std::vector<std::uint32_t> ids;
  std::vector<Region> out;
  std::vector<Box> pieces, next;
  for (std::uint32_t i : order) {
    const ir::Rule& r = p.rules[i];
    if (!ir::field_contains(r.match.directions, static_cast<std::uint8_t>(d))) continue;
    std::vector<Box> match;
    analysis::PacketSet set = analysis::PacketSet::of(r.match, p);
    for (const Box& b : set.boxes())
      if (auto own = with_field(b, Field::Direction, values::intersect(b[Field::Direction], dir)))
        match.push_back(std::move(*own));
    for (const Box& m : match) {
      pieces.assign(1, m);
      earlier.near(m, ids);
      for (std::uint32_t id : ids) {
        const Box& e = matches[id];
        if (pieces.empty()) break;
        if (!overlaps(m, e)) continue;
        next.clear();
        for (Box& a : pieces) {
          if (!overlaps(a, e)) {
            next.push_back(std::move(a));
            continue;
          }
          subtract(a, e, next);
        }
        pieces.swap(next);
      }
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

BoxIndex::Hulls BoxIndex::hulls_of(const Box& b) {
  auto port = [&](Field f, bool hi) {
    Interval h = b.hull(f);
    return static_cast<std::uint32_t>(std::min<U128>(hi ? h.hi : h.lo, 65536));
  };
  return {b.hull(Field::Src).lo,         b.hull(Field::Src).hi,        b.hull(Field::Dst).lo,
          b.hull(Field::Dst).hi,         port(Field::Sport, false),    port(Field::Sport, true),
          port(Field::Dport, false),     port(Field::Dport, true)};
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
  out.clear();
  const Hulls q = hulls_of(b);
  for (std::size_t k = 0; k < kProtoClasses; ++k) {
    if (!values::overlap(b[Field::Protocol], protocol_class(k))) continue;
    for (std::size_t l = 0; l < kShifts.size(); ++l) {
      unsigned s = kShifts[l];
      std::size_t first = kLevelStart[l] + (std::min(q.dport_lo, 65535u) >> s);
      std::size_t last = kLevelStart[l] + (std::min(q.dport_hi, 65535u) >> s);
      for (std::size_t j = first; j <= last; ++j)
        for (std::uint32_t id : bins_[k * kPortBins + j]) {
          const Hulls& h = hulls_[id];
          if (apart(h.dst_lo, h.dst_hi, q.dst_lo, q.dst_hi) || apart(h.src_lo, h.src_hi, q.src_lo, q.src_hi) ||
              apart(h.dport_lo, h.dport_hi, q.dport_lo, q.dport_hi) ||
              apart(h.sport_lo, h.sport_hi, q.sport_lo, q.sport_hi))
            continue;
          out.push_back(id);
        }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
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
  auto within = [&](const Box& c) {
    for (std::size_t f = 0; f < kFields; ++f)
      if (!values::covers(c[static_cast<Field>(f)], box[static_cast<Field>(f)])) return false;
    return true;
  };
  std::vector<std::uint32_t> ids;
  side.near(box, ids);
  std::erase_if(ids, [&](std::uint32_t id) { return !overlaps(box, side.covers()[id].box); });
  for (std::uint32_t id : ids)
    if (within(side.covers()[id].box)) return std::vector<Box>{};
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
