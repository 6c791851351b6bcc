// Large policies for Windows: regions rule by rule, without the default's.
//
// The planner's first method splits all of a direction's packets, the
// default's region included, and that region fragments with every rule. For
// large policies the planner instead computes each rule's own region (its
// match minus the matches that take precedence over it), which stays small,
// and covers only the verdict opposite to the default, which is exactly
// what the rules decide: allow rules under a default of Block, block rules
// under a default of Allow. Questions about the other verdict become
// subtractions from the covered side. Earlier matches are indexed by
// protocol and destination port so a rule only meets the ones near it.
#include <algorithm>
#include <array>

#include "analysis/packetset.hpp"
#include "backends/windows_internal.hpp"

namespace rulec::backends::windows::detail {
namespace {

namespace values = analysis::values;

/// Earlier matches, binned by protocol (the common ones alone) and, for
/// boxes of narrow destination ports, by the port's upper byte.
class MatchIndex {
 public:
  void add(const Box& b) {
    for (std::size_t k = 0; k < kProtos.size() + 1; ++k) {
      auto protos = values::intersect(b[Field::Protocol], protocols(k));
      if (protos.empty()) continue;
      auto part = with_field(b, Field::Protocol, protos);
      bins_[k * kBins + bin(*part)].push_back(std::move(*part));
    }
  }

  /// Calls f(box) for every indexed box that may overlap `b`.
  template <typename F>
  void near(const Box& b, F&& f) const {
    for (std::size_t k = 0; k < kProtos.size() + 1; ++k) {
      if (!values::overlap(b[Field::Protocol], protocols(k))) continue;
      std::size_t own = bin(b);
      for (std::size_t j = 0; j < kBins; ++j)
        if (own == kWide || j == kWide || j == own)
          for (const Box& e : bins_[k * kBins + j]) f(e);
    }
  }

 private:
  static constexpr std::array<unsigned, 8> kProtos = {6, 17, 1, 58, 47, 50, 51, 132};
  static constexpr std::size_t kWide = 256, kBins = 257;

  static std::vector<Interval> protocols(std::size_t k) {
    if (k < kProtos.size()) return {{kProtos[k], kProtos[k]}};
    std::vector<Interval> rest{{0, 255}};
    for (unsigned p : kProtos) rest = values::subtract(rest, std::vector<Interval>{{p, p}});
    return rest;
  }
  static std::size_t bin(const Box& b) {
    Interval h = b.hull(Field::Dport);
    return (h.lo >> 8) == (h.hi >> 8) && h.hi <= 65535 ? static_cast<std::size_t>(h.lo >> 8) : kWide;
  }

  std::array<std::vector<Box>, (kProtos.size() + 1) * kBins> bins_;
};

}  // namespace

std::optional<std::vector<Region>> decide_rules(const ir::Policy& p, ir::Direction d,
                                                const std::vector<std::uint32_t>& order, std::size_t max_pieces) {
  const std::vector<Interval> dir{{static_cast<U128>(d), static_cast<U128>(d)}};
  MatchIndex earlier;
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
      earlier.near(m, [&](const Box& e) {
        if (pieces.empty() || !overlaps(m, e)) return;
        next.clear();
        for (Box& a : pieces) {
          if (!overlaps(a, e)) {
            next.push_back(std::move(a));
            continue;
          }
          subtract(a, e, next);
        }
        pieces.swap(next);
      });
      for (Box& a : pieces) out.push_back({std::move(a), i, r.action == ir::Action::Pass});
    }
    for (const Box& m : match) earlier.add(m);
    if (out.size() > max_pieces) return std::nullopt;
  }
  return out;
}

std::optional<std::vector<Box>> outside(const Box& box, const std::vector<Cover>& side, std::size_t max_pieces) {
  auto within = [&](const Box& c) {
    for (std::size_t f = 0; f < kFields; ++f)
      if (!values::covers(c[static_cast<Field>(f)], box[static_cast<Field>(f)])) return false;
    return true;
  };
  for (const Cover& c : side)
    if (within(c.box)) return std::vector<Box>{};
  std::vector<Box> rest{box}, next;
  for (const Cover& c : side) {
    if (rest.empty()) break;
    if (!overlaps(box, c.box)) continue;
    next.clear();
    for (Box& a : rest) {
      if (!overlaps(a, c.box)) {
        next.push_back(std::move(a));
        continue;
      }
      subtract(a, c.box, next);
    }
    rest.swap(next);
    if (rest.size() > max_pieces) return std::nullopt;
  }
  return rest;
}

std::optional<std::vector<Cover>> cover_side(const ir::Policy& p, const std::vector<Cover>& side, bool allow) {
  const auto n = static_cast<U128>(p.interfaces.size());
  const std::vector<Interval> named{{0, n == 0 ? 0 : n - 1}};
  std::vector<Cover> out;
  for (const Cover& c : side) {
    auto ifs = c.box[Field::Interface];
    bool unnamed = ifs.back().hi >= n;
    out.push_back({c.box, allow, unnamed, c.rule});
    if (!unnamed || n == 0 || (ifs.front().lo == 0 && ifs.size() == 1)) continue;
    // Written for every interface: the named ones where the verdict differs are closed again.
    auto part = with_field(c.box, Field::Interface, named);
    if (!part) continue;
    std::vector<Box> differ = *outside(*part, side, SIZE_MAX);
    if (!differ.empty() && !allow) return std::nullopt;
    for (Box& b : differ) out.push_back({std::move(b), false, false, c.rule});
  }
  return out;
}

}  // namespace rulec::backends::windows::detail
