// The rule index: interval keys grouped by width.
#include "analysis/rule_index.hpp"

#include <algorithm>
#include <bit>

namespace rulec::analysis {

using ir::U128;

namespace {

constexpr std::size_t kMaxIntervals = 24;  // more than this: the hull stands for them
constexpr U128 kV4Mapped = U128(0xffff) << 32;

std::size_t bit_length(U128 v) {
  auto hi = static_cast<std::uint64_t>(v >> 64), lo = static_cast<std::uint64_t>(v);
  return hi ? 128 - static_cast<std::size_t>(std::countl_zero(hi)) : 64 - static_cast<std::size_t>(std::countl_zero(lo));
}

std::size_t width_class(const Interval& i) { return (bit_length(i.hi - i.lo) + 3) / 4; }

void merge(std::vector<Interval>& v) {
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) { return a.lo < b.lo; });
  std::size_t out = 0;
  for (const Interval& i : v) {
    if (out > 0 && i.lo <= v[out - 1].hi) v[out - 1].hi = std::max(v[out - 1].hi, i.hi);
    else v[out++] = i;
  }
  v.resize(out);
  if (v.size() > kMaxIntervals) v = {{v.front().lo, v.back().hi}};
}

}  // namespace

std::vector<Interval> RuleIndex::key_intervals(const PacketSet& s, std::size_t key) {
  std::vector<Interval> out;
  for (const Box& b : s.boxes()) {
    if (key == 0) {
      // (protocol, port, direction, interface): the most selective key for most rules.
      auto clamp = [](U128 v) { return std::min<U128>(v, 0xffff); };
      for (const Interval& p : b[Field::Protocol])
        for (const Interval& d : b[Field::Dport]) {
          U128 lo = (p.lo << 16) | d.lo, hi = (p.hi << 16) | d.hi;
          if (lo != hi) {
            out.push_back({lo << 17, (hi << 17) | 0x1ffff});
            continue;
          }
          for (const Interval& dir : b[Field::Direction])
            for (const Interval& i : b[Field::Interface])
              out.push_back({((lo << 1 | dir.lo) << 16) | clamp(i.lo), ((lo << 1 | dir.hi) << 16) | clamp(i.hi)});
        }
    } else {
      bool v4 = b.hull(Field::Family).hi == 0;
      for (const Interval& a : b[key == 1 ? Field::Dst : Field::Src])
        out.push_back(v4 ? Interval{a.lo + kV4Mapped, a.hi + kV4Mapped} : a);
    }
    if (out.size() > 4 * kMaxIntervals) merge(out);
  }
  merge(out);
  return out;
}

RuleIndex::RuleIndex(const std::vector<PacketSet>& matches) : seen_(matches.size(), 0) {
  hulls_.resize(matches.size());
  for (std::uint32_t r = 0; r < matches.size(); ++r) {
    for (std::size_t f = 0; f < kFieldCount; ++f) hulls_[r][f] = matches[r].hull(static_cast<Field>(f));
    for (std::size_t k = 0; k < kKeys; ++k)
      for (const Interval& i : key_intervals(matches[r], k)) {
        WidthClass& c = keys_[k][width_class(i)];
        c.entries.push_back({i, r});
        c.max_width = std::max(c.max_width, i.hi - i.lo);
      }
  }
  for (Key& key : keys_)
    for (WidthClass& c : key)
      std::sort(c.entries.begin(), c.entries.end(), [](const Entry& a, const Entry& b) {
        return a.span.lo < b.span.lo || (a.span.lo == b.span.lo && a.rule < b.rule);
      });
}

namespace {

/// Entries of one width class whose start lies in [q.lo - max_width, q.hi].
template <typename Entries>
std::pair<std::size_t, std::size_t> window(const Entries& e, U128 max_width, const Interval& q) {
  U128 from = q.lo >= max_width ? q.lo - max_width : 0;
  auto lo = std::lower_bound(e.begin(), e.end(), from, [](const auto& x, U128 v) { return x.span.lo < v; });
  auto hi = std::upper_bound(lo, e.end(), q.hi, [](U128 v, const auto& x) { return v < x.span.lo; });
  return {static_cast<std::size_t>(lo - e.begin()), static_cast<std::size_t>(hi - e.begin())};
}

}  // namespace

std::size_t RuleIndex::estimate(const Key& k, const std::vector<Interval>& q) const {
  std::size_t n = 0;
  for (const WidthClass& c : k) {
    if (c.entries.empty()) continue;
    for (const Interval& i : q) {
      auto [lo, hi] = window(c.entries, c.max_width, i);
      n += hi - lo;
    }
  }
  return n;
}

bool RuleIndex::hulls_overlap(const std::array<Interval, kFieldCount>& a, const std::array<Interval, kFieldCount>& b) {
  // The fields that tell rules apart most often first.
  constexpr std::size_t order[] = {5, 4, 7, 3, 0, 1, 6, 2, 8};
  for (std::size_t f : order)
    if (a[f].hi < b[f].lo || b[f].hi < a[f].lo) return false;
  return true;
}

void RuleIndex::next_epoch() const {
  if (++epoch_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    epoch_ = 1;
  }
}

bool RuleIndex::plan(const PacketSet& set, std::size_t& key, std::vector<Interval>& q,
                     std::array<Interval, kFieldCount>& hull) const {
  if (set.empty()) return false;
  for (std::size_t f = 0; f < kFieldCount; ++f) hull[f] = set.hull(static_cast<Field>(f));
  std::size_t best_cost = SIZE_MAX;
  for (std::size_t k = 0; k < kKeys; ++k) {
    std::vector<Interval> qk = key_intervals(set, k);
    std::size_t cost = estimate(keys_[k], qk);
    if (cost < best_cost) key = k, best_cost = cost, q = std::move(qk);
  }
  return true;
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
