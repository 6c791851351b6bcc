// Box operations and merging for the Windows planner.
#include <algorithm>
#include <array>
#include <string>

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

/// A hash of one field of a box.
std::uint64_t field_hash(const Box& b, std::size_t g) {
  std::uint64_t h = mix(0x51, g);
  for (const Interval& i : b[static_cast<Field>(g)]) {
    h = mix(h, static_cast<std::uint64_t>(i.lo) ^ static_cast<std::uint64_t>(i.lo >> 64) * 31);
    h = mix(h, static_cast<std::uint64_t>(i.hi) ^ static_cast<std::uint64_t>(i.hi >> 64) * 31);
  }
  return h;
}

/// Per covering box, the hash of each field, kept so that a box's key is
/// worked out from them without going over its values again.
using FieldHashes = std::array<std::uint64_t, kFields>;

/// A hash of a covering box's kind and of every field but `skip`.
std::uint64_t key_hash(const Cover& c, const FieldHashes& fields, std::size_t skip) {
  std::uint64_t h = mix(c.allow ? 1 : 2, c.any_interface ? 3 : 4);
  for (std::size_t g = 0; g < kFields; ++g) h = mix(h, g == skip ? g : fields[g]);
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
  std::vector<FieldHashes> hashes(covers.size());
  for (std::size_t i = 0; i < covers.size(); ++i)
    for (std::size_t g = 0; g < kFields; ++g) hashes[i][g] = field_hash(covers[i].box, g);
  // Per pass over field f: boxes in order of their key (ties in their own
  // order); each joins the first earlier box of its key it agrees with.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed;
  std::vector<std::uint32_t> into, leaders, at;
  // Per kept box, the values of field f of the boxes merged into it: united
  // once per pass, not once per box (a box may take in thousands).
  std::vector<std::vector<Interval>> merged;
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t f = 0; f < kFields; ++f) {
      const auto field = static_cast<Field>(f);
      const std::size_t n = covers.size();
      keyed.resize(n);
      for (std::size_t i = 0; i < n; ++i) keyed[i] = {key_hash(covers[i], hashes[i], f), static_cast<std::uint32_t>(i)};
      std::sort(keyed.begin(), keyed.end());
      into.assign(n, 0);
      for (std::size_t r = 0; r < n;) {
        std::size_t end = r;
        while (end < n && keyed[end].first == keyed[r].first) ++end;
        leaders.clear();
        for (std::size_t j = r; j < end; ++j) {
          std::uint32_t i = keyed[j].second;
          auto it = std::find_if(leaders.begin(), leaders.end(),
                                 [&](std::uint32_t l) { return same_but(covers[l], covers[i], f); });
          into[i] = it == leaders.end() ? i : *it;
          if (it == leaders.end()) leaders.push_back(i);
        }
        r = end;
      }
      std::vector<Cover> out;
      std::vector<FieldHashes> out_hashes;
      out.reserve(n);
      out_hashes.reserve(n);
      merged.clear();
      at.assign(n, 0);
      for (std::size_t i = 0; i < n; ++i) {
        if (into[i] == i) {
          at[i] = static_cast<std::uint32_t>(out.size());
          out.push_back(std::move(covers[i]));
          out_hashes.push_back(hashes[i]);
          merged.emplace_back();
          continue;
        }
        Cover& t = out[at[into[i]]];
        auto& values = merged[at[into[i]]];
        if (values.empty()) values.assign(t.box[field].begin(), t.box[field].end());
        values.insert(values.end(), covers[i].box[field].begin(), covers[i].box[field].end());
        if (t.rule != covers[i].rule) t.rule = kSeveralRules;
        changed = true;
      }
      for (std::size_t k = 0; k < out.size(); ++k)
        if (!merged[k].empty()) {
          out[k].box = *with_field(out[k].box, field, values::unite(merged[k], {}));
          out_hashes[k][f] = field_hash(out[k].box, f);
        }
      covers = std::move(out);
      hashes = std::move(out_hashes);
    }
  }
}

}  // namespace rulec::backends::windows::detail
