// Box operations and merging for the Windows planner.
#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>

#include "backends/windows_internal.hpp"

namespace rulec::backends::windows::detail {

namespace values = analysis::values;

/// A copy of `b` with field `f` replaced by `v` (nullopt when `v` is empty).
std::optional<Box> with_field(const Box& b, Field f, std::span<const Interval> v) {
  Box::Builder out;
  for (std::size_t i = 0; i < kFields; ++i)
    if (!out.add(static_cast<Field>(i) == f ? v : b[static_cast<Field>(i)])) return std::nullopt;
  return out.take();
}

bool overlaps(const Box& a, const Box& b) {
  // The fields that tell boxes apart most often come first; hulls first, inline.
  static constexpr Field kOrder[] = {Field::Dport, Field::Dst,       Field::Protocol, Field::Src,      Field::Sport,
                                     Field::IcmpType, Field::Interface, Field::Family, Field::Direction};
  for (Field f : kOrder) {
    auto x = a[f], y = b[f];
    if (x.back().hi < y.front().lo || y.back().hi < x.front().lo) return false;
  }
  for (Field f : kOrder)
    if ((a[f].size() > 1 || b[f].size() > 1) && !values::overlap(a[f], b[f])) return false;
  return true;
}

std::optional<Box> intersect(const Box& a, const Box& b) {
  Box::Builder out;
  for (std::size_t i = 0; i < kFields; ++i)
    if (!out.add(values::intersect(a[static_cast<Field>(i)], b[static_cast<Field>(i)]))) return std::nullopt;
  return out.take();
}

/// Appends the disjoint boxes of a - b (b known to overlap a).
void subtract(const Box& a, const Box& b, std::vector<Box>& out) {
  std::array<std::vector<Interval>, kFields> cur;
  for (std::size_t i = 0; i < kFields; ++i) cur[i].assign(a[static_cast<Field>(i)].begin(), a[static_cast<Field>(i)].end());
  for (std::size_t f = 0; f < kFields; ++f) {
    auto rest = values::subtract(cur[f], b[static_cast<Field>(f)]);
    if (!rest.empty()) {
      Box::Builder piece;
      for (std::size_t i = 0; i < kFields; ++i) piece.add(i == f ? rest : cur[i]);
      out.push_back(piece.take());
    }
    cur[f] = values::intersect(cur[f], b[static_cast<Field>(f)]);
  }
}

bool is_full(std::span<const Interval> v, U128 max) { return v.size() == 1 && v[0].lo == 0 && v[0].hi == max; }

namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xbf58476d1ce4e5b9ULL;
}

/// A hash of a covering box's kind and of every field but `skip`.
std::uint64_t key_hash(const Cover& c, std::size_t skip) {
  std::uint64_t h = mix(c.allow ? 1 : 2, c.any_interface ? 3 : 4);
  for (std::size_t g = 0; g < kFields; ++g) {
    h = mix(h, g);
    if (g == skip) continue;
    for (const Interval& i : c.box[static_cast<Field>(g)]) {
      h = mix(h, static_cast<std::uint64_t>(i.lo) ^ static_cast<std::uint64_t>(i.lo >> 64) * 31);
      h = mix(h, static_cast<std::uint64_t>(i.hi) ^ static_cast<std::uint64_t>(i.hi >> 64) * 31);
    }
  }
  return h;
}

/// True when the two covering boxes are of one kind and agree in every field but `skip`.
bool same_but(const Cover& a, const Cover& b, std::size_t skip) {
  if (a.allow != b.allow || a.any_interface != b.any_interface) return false;
  for (std::size_t g = 0; g < kFields; ++g) {
    if (g == skip) continue;
    auto x = a.box[static_cast<Field>(g)], y = b.box[static_cast<Field>(g)];
    if (!std::equal(x.begin(), x.end(), y.begin(), y.end(),
                    [](const Interval& p, const Interval& q) { return p.lo == q.lo && p.hi == q.hi; }))
      return false;
  }
  return true;
}

}  // namespace

/// Merges covering boxes that differ in one field only, until none do:
/// the regions of the evaluator are fragments, Windows rules should not be.
void coalesce(std::vector<Cover>& covers, U128 unnamed) {
  const std::vector<Interval> every{{0, unnamed}};
  for (Cover& c : covers)
    if (c.any_interface) c.box = *with_field(c.box, Field::Interface, every);
  std::unordered_multimap<std::uint64_t, std::size_t> index;
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t f = 0; f < kFields; ++f) {
      index.clear();
      std::vector<Cover> out;
      out.reserve(covers.size());
      for (Cover& c : covers) {
        std::uint64_t h = key_hash(c, f);
        auto [lo, hi] = index.equal_range(h);
        auto it = std::find_if(lo, hi, [&](const auto& e) { return same_but(out[e.second], c, f); });
        if (it == hi) {
          index.emplace(h, out.size());
          out.push_back(std::move(c));
          continue;
        }
        Cover& t = out[it->second];
        t.box = *with_field(t.box, static_cast<Field>(f), values::unite(t.box[static_cast<Field>(f)], c.box[static_cast<Field>(f)]));
        if (t.rule != c.rule) t.rule = kSeveralRules;
        changed = true;
      }
      covers = std::move(out);
    }
  }
}

}  // namespace rulec::backends::windows::detail
