// The rule index: rules filed by address and by port, handed out by rank.
#include "analysis/rule_index.hpp"

#include <stdexcept>

namespace rulec::analysis {

namespace {

/// The destination ports of a set as sorted, disjoint intervals.
std::vector<Interval> ports_of(const PacketSet& set) {
  std::vector<Interval> ports;
  for (const Box& b : set.boxes()) {
    auto d = b[Field::Dport];
    ports.insert(ports.end(), d.begin(), d.end());
  }
  return values::unite(ports, {});
}

std::size_t count_ports(const std::vector<Interval>& ports) {
  std::size_t n = 0;
  for (const Interval& r : ports) n += static_cast<std::size_t>(r.hi - r.lo) + 1;
  return n;
}

}  // namespace

void Stabber::add(ir::U128 lo, ir::U128 hi, std::uint32_t rule) { added_.push_back({lo, hi, rule}); }

void Stabber::finish(const std::vector<std::vector<Interval>>& ports) {
  auto width_class = [](const Item& i) {
    ir::U128 width = i.hi - i.lo;
    std::size_t c = 0;
    while (c < 128 && (width >> c) != 0) ++c;  // the bit length of the width
    return c;
  };
  // Stable: rules filed under one interval keep the order they came in.
  std::stable_sort(added_.begin(), added_.end(), [&](const Item& a, const Item& b) {
    auto ca = width_class(a), cb = width_class(b);
    return ca != cb ? ca < cb : a.lo != b.lo ? a.lo < b.lo : a.hi < b.hi;
  });
  rules_.reserve(added_.size());
  for (const Item& i : added_) {
    auto& runs = classes_[width_class(i)];
    if (runs.empty() || runs.back().lo != i.lo || runs.back().hi != i.hi)
      runs.push_back({i.lo, i.hi, static_cast<std::uint32_t>(rules_.size()), 0});
    rules_.push_back(i.rule);
    ++runs.back().count;
  }
  added_ = {};
  for (auto& runs : classes_)
    for (Run& run : runs) {
      if (run.count <= kSplitRun) continue;
      run.split = static_cast<std::uint32_t>(splits_.size());
      Split& split = splits_.emplace_back();
      std::vector<std::pair<std::uint32_t, std::uint32_t>> filed;  // (port, rule), in rank order
      for (std::uint32_t i = run.first; i < run.first + run.count; ++i) {
        std::uint32_t k = rules_[i];
        if (ports[k].empty()) split.any.push_back(k);
        for (const Interval& r : ports[k])
          for (auto p = static_cast<std::uint32_t>(r.lo); p <= static_cast<std::uint32_t>(r.hi); ++p) filed.push_back({p, k});
      }
      std::stable_sort(filed.begin(), filed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::uint32_t i = 0; i < filed.size(); ++i) {
        if (i == 0 || filed[i].first != filed[i - 1].first) split.at.push_back({filed[i].first, i});
        split.rules.push_back(filed[i].second);
      }
      split.at.push_back({UINT32_MAX, static_cast<std::uint32_t>(filed.size())});
    }
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    if (classes_[c].empty()) continue;
    used_.push_back(static_cast<std::uint8_t>(c));
    before_[c].push_back(0);
    for (const Run& r : classes_[c]) before_[c].push_back(before_[c].back() + r.count);
  }
}

std::vector<Stabber::Run>::const_iterator Stabber::first_run(const std::vector<Run>& runs, std::size_t c,
                                                              ir::U128 lo) {
  // Widths below 2^c: an interval meeting [lo, ...] starts at most 2^c - 1 below lo.
  ir::U128 reach = c >= 128 ? ~ir::U128(0) : (ir::U128(1) << c) - 1;
  ir::U128 from = lo >= reach ? lo - reach : 0;
  return std::lower_bound(runs.begin(), runs.end(), from, [](const Run& r, ir::U128 v) { return r.lo < v; });
}

std::size_t Stabber::cost(ir::U128 lo, ir::U128 hi) const {
  std::size_t n = 0;
  for (std::size_t c : used_) {
    const auto& runs = classes_[c];
    auto first = first_run(runs, c, lo);
    auto last = std::upper_bound(first, runs.end(), hi, [](ir::U128 v, const Run& r) { return v < r.lo; });
    n += before_[c][static_cast<std::size_t>(last - runs.begin())] - before_[c][static_cast<std::size_t>(first - runs.begin())];
  }
  return n;
}

IndexEntry RuleIndex::entry_of(std::uint32_t rank, const Hull& hull) {
  auto at = [&](Field f) { return hull[static_cast<std::size_t>(f)]; };
  auto narrow = [](ir::U128 x, unsigned max) { return static_cast<unsigned>(std::min<ir::U128>(x, max)); };
  auto bits = [&](Field f) {  // the values 0 and 1 of a field, as bits
    std::uint8_t b = 0;
    for (unsigned v = 0; v < 2; ++v)
      if (at(f).lo <= v && v <= at(f).hi) b |= static_cast<std::uint8_t>(1u << v);
    return b;
  };
  IndexEntry e{};
  e.rank = rank;
  e.dport_lo = static_cast<std::uint16_t>(narrow(at(Field::Dport).lo, 65535));
  e.dport_hi = static_cast<std::uint16_t>(narrow(at(Field::Dport).hi, 65535));
  e.iface_lo = static_cast<std::uint8_t>(narrow(at(Field::Interface).lo, 255));
  e.iface_hi = static_cast<std::uint8_t>(narrow(at(Field::Interface).hi, 255));
  e.proto_lo = static_cast<std::uint8_t>(narrow(at(Field::Protocol).lo, 255));
  e.proto_hi = static_cast<std::uint8_t>(narrow(at(Field::Protocol).hi, 255));
  e.directions = bits(Field::Direction);
  e.families = bits(Field::Family);
  return e;
}

RuleIndex::Query RuleIndex::query_of(const PacketSet& set) {
  Query q;
  for (std::size_t f = 0; f < kFieldCount; ++f) q.hull[f] = set.hull(static_cast<Field>(f));
  q.ports = ports_of(set);
  return q;
}

RuleIndex::Query RuleIndex::query_of(const Point& point) {
  Query q;
  for (std::size_t f = 0; f < kFieldCount; ++f) q.hull[f] = {point[f], point[f]};
  q.ports = {q.hull[static_cast<std::size_t>(Field::Dport)]};
  return q;
}

RuleIndex::RuleHull RuleIndex::RuleHull::of(const Hull& h) {
  RuleHull out{};
  out.addr[0] = h[kSrc].lo, out.addr[1] = h[kSrc].hi, out.addr[2] = h[kDst].lo, out.addr[3] = h[kDst].hi;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    if (f == kSrc || f == kDst) continue;
    if (h[f].hi > UINT32_MAX) throw std::logic_error("rule index: a field other than an address beyond 32 bits");
    out.small[slot(f)][0] = static_cast<std::uint32_t>(h[f].lo);
    out.small[slot(f)][1] = static_cast<std::uint32_t>(h[f].hi);
  }
  return out;
}

bool RuleIndex::overlap(const RuleHull& a, const Hull& b) {
  constexpr std::size_t order[] = {5, 4, 7, 3, 0, 1, 6, 2, 8};  // the fields that differ most often first
  for (std::size_t f : order)
    if (a.hi(f) < b[f].lo || b[f].hi < a.lo(f)) return false;
  return true;
}

RuleIndex::Marks& RuleIndex::start_query() const {
  thread_local Marks marks;
  // Marks left by another index (or an earlier query) are all older than the
  // next epoch, so only growing and wrapping need care.
  if (marks.seen.size() < hulls_.size()) marks.seen.resize(hulls_.size(), 0);
  if (++marks.epoch == 0) {
    std::fill(marks.seen.begin(), marks.seen.end(), 0);
    marks.epoch = 1;
  }
  return marks;
}

RuleIndex::RuleIndex(const ir::Policy& policy, const std::vector<PacketSet>& matches,
                     const std::vector<std::uint32_t>& rank, const std::vector<bool>* leave_out)
    : rank_(rank), hulls_(matches.size()) {
  // Rules are filed in rank order, so every list comes out sorted by rank.
  std::vector<std::uint32_t> order(matches.size());
  for (std::uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return rank_[a] < rank_[b]; });
  std::vector<std::vector<Interval>> ports(matches.size());
  std::vector<Kind> kinds(matches.size(), Broad);
  entries_.resize(matches.size());
  for (Files& f : files_) f.first.assign(65537, 0);
  for (std::uint32_t k : order) {
    const PacketSet& m = matches[k];
    if (m.empty() || (leave_out && (*leave_out)[k])) continue;
    Hull hull = query_of(m).hull;
    hulls_[k] = RuleHull::of(hull);
    entries_[k] = entry_of(rank_[k], hull);
    const ir::Match& raw = policy.rules[k].match;
    Kind kind = kinds[k] = !raw.dst.empty() ? ByDst : !raw.src.empty() ? BySrc : Broad;
    if (kind == ByDst)
      for (const auto& r : raw.dst) by_dst_.add(r.lo, r.hi, k);
    if (kind == BySrc)
      for (const auto& r : raw.src) by_src_.add(r.lo, r.hi, k);
    Files& f = files_[kind];
    f.all.push_back(k);
    ports[k] = ports_of(m);
    if (count_ports(ports[k]) > kMaxFiledPorts) {
      f.any_port.push_back(k);
      ports[k].clear();
    }
    for (const Interval& r : ports[k])
      for (auto p = static_cast<std::size_t>(r.lo); p <= static_cast<std::size_t>(r.hi); ++p) ++f.first[p + 1];
  }
  for (Files& f : files_) {
    for (std::size_t p = 1; p < f.first.size(); ++p) f.first[p] += f.first[p - 1];
    f.by_port.resize(f.first.back());
  }
  std::array<std::vector<std::uint32_t>, 3> fill;
  for (std::size_t i = 0; i < fill.size(); ++i) fill[i].assign(files_[i].first.begin(), files_[i].first.end() - 1);
  for (std::uint32_t k : order)
    for (const Interval& r : ports[k])
      for (auto p = static_cast<std::size_t>(r.lo); p <= static_cast<std::size_t>(r.hi); ++p)
        files_[kinds[k]].by_port[fill[kinds[k]][p]++] = k;
  by_dst_.finish(ports);
  by_src_.finish(ports);
}

void RuleIndex::sources(const Query& q, Kind kind, std::vector<List>& lists) const {
  const Files& f = files_[kind];
  if (f.all.empty()) return;
  // By port: the lists of the query's ports, or every rule when it has too many.
  std::size_t by_port = f.all.size();
  bool few_ports = count_ports(q.ports) <= kMaxFiledPorts;
  if (few_ports) {
    by_port = f.any_port.size();
    for (const Interval& r : q.ports)
      for (auto p = static_cast<std::size_t>(r.lo); p <= static_cast<std::size_t>(r.hi); ++p)
        by_port += f.first[p + 1] - f.first[p];
  }
  // By address, when that looks at fewer rules.
  if (kind != Broad) {
    const Stabber& by_addr = kind == ByDst ? by_dst_ : by_src_;
    const Interval& addr = q.hull[kind == ByDst ? kDst : kSrc];
    if (by_addr.cost(addr.lo, addr.hi) < by_port) {
      by_addr.overlapping(addr.lo, addr.hi, [&](List run) { lists.push_back(run); });
      return;
    }
  }
  if (!few_ports) {
    lists.emplace_back(f.all);
    return;
  }
  for (const Interval& r : q.ports)
    for (auto p = static_cast<std::size_t>(r.lo); p <= static_cast<std::size_t>(r.hi); ++p)
      if (f.first[p + 1] > f.first[p]) lists.push_back(f.port(p));
  if (!f.any_port.empty()) lists.emplace_back(f.any_port);
}

}  // namespace rulec::analysis
