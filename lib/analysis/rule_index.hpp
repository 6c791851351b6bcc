// Finding the rules that touch a set of packets without comparing every pair.
//
// Lint asks, for each rule, which rules of higher precedence take packets
// from it, and for a packet, which rule decides it. At 100k rules comparing
// every pair is out of the question. Listing every rule a packet to port 443
// meets is too: every `pass to port https` and `service https` of a policy
// holds it, and in a large policy that is a fixed share of all its rules.
// So the index hands out rules in precedence order (rank 0 decides first,
// decisions.hpp), and the questions stop at the first rules that settle them.
//
// Each rule is filed by what tells it apart best:
// - a rule that names a destination address, by that address;
// - a rule that names only a source address, by that address;
// - and every rule by each destination port it matches (when that is at
//   most kMaxFiledPorts ports; otherwise in one list for all ports).
// Every list is in rank order: the rules of one port, and the rules filed
// under one address interval (a `Stabber` run). A query takes, for each kind
// of rule, the way in that names fewer rules: by address when its own
// addresses are narrow, else by its ports; it merges the lists it takes in
// rank order. The exact test is left to the packet-set algebra.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "analysis/packetset.hpp"
#include "ir/ir.hpp"

namespace rulec::analysis {

/// Intervals of one field, found by the values they share with a query.
/// Rules filed under the same interval form one run, kept in the order they
/// were filed (rank order, as RuleIndex files them). Runs are kept by width
/// class (the bit length of hi - lo), each class sorted by lower end, so a
/// query looks at a short stretch of each class.
class Stabber {
 public:
  void add(ir::U128 lo, ir::U128 hi, std::uint32_t rule);
  /// Groups what was added into runs; call once, before the queries.
  /// `ports[rule]` are the destination ports a rule is filed under (empty:
  /// too many to file): a long run is also split by them.
  void finish(const std::vector<std::vector<Interval>>& ports);
  /// Calls `each(rules)` with the run of every interval meeting [lo, hi].
  template <typename Each>
  void overlapping(ir::U128 lo, ir::U128 hi, Each each) const;
  /// Calls `each(rules)`, lists in the same order, holding at least every
  /// rule filed under an interval holding `x` and under port `port`.
  template <typename Each>
  void holding(ir::U128 x, std::size_t port, Each each) const;
  /// Runs longer than this are split by port for holding().
  static constexpr std::uint32_t kSplitRun = 32;
  /// At most how many rules overlapping() hands out: a bound on its cost.
  std::size_t cost(ir::U128 lo, ir::U128 hi) const;

 private:
  struct Item {
    ir::U128 lo, hi;
    std::uint32_t rule;
  };
  struct Run {
    ir::U128 lo, hi;
    std::uint32_t first, count;  ///< rules_[first, first + count)
    std::uint32_t split = UINT32_MAX;  ///< its entry in splits_, when long
  };
  /// A long run by port: the rules of port p are rules[at[i].second, at[i + 1].second)
  /// where at[i].first == p; those filed under no port come in any.
  struct Split {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> at;  ///< (port, start), by port, then a sentinel
    std::vector<std::uint32_t> rules;
    std::vector<std::uint32_t> any;
  };
  std::vector<Split> splits_;
  /// The runs of a class from the first that may meet [lo, hi] on.
  static std::vector<Run>::const_iterator first_run(const std::vector<Run>& runs, std::size_t c, ir::U128 lo);
  std::vector<Item> added_;
  std::array<std::vector<Run>, 129> classes_;
  std::array<std::vector<std::uint32_t>, 129> before_;  ///< per class: rules in the runs before each run
  std::vector<std::uint8_t> used_;  ///< the classes holding any run
  std::vector<std::uint32_t> rules_;
};

class RuleIndex {
 public:
  /// The smallest box around some packets: one interval per field.
  using Hull = std::array<Interval, kFieldCount>;
  /// What a query asks about: a hull, and its destination ports exactly.
  struct Query {
    Hull hull;
    std::vector<Interval> ports;  ///< sorted, disjoint
  };
  static Query query_of(const PacketSet& set);
  static Query query_of(const Point& point);

  /// Rules with more destination ports than this are filed in one list for all ports.
  static constexpr std::size_t kMaxFiledPorts = 1024;

  /// Indexes the rules of `policy`: `matches` and `rank` are per IR rule
  /// (the index keeps a reference to `rank`: it must outlive the index);
  /// rules whose `leave_out` entry is true (when given) are not filed.
  RuleIndex(const ir::Policy& policy, const std::vector<PacketSet>& matches, const std::vector<std::uint32_t>& rank,
            const std::vector<bool>* leave_out = nullptr);

  /// Calls `visit(rule)` once for each rule with a rank in [lo, hi] whose
  /// hull meets `q` (a superset of the rules that share packets with it),
  /// in ascending rank order (descending when `ascending` is false), until
  /// `visit` returns false. Gives up after looking at `max_looks` rules
  /// (those that turn out not to meet `q` included), returning false; true
  /// otherwise.
  /// With `broad_only`, only the rules that name no address are handed out.
  template <typename Visit>
  bool in_rank_order(const Query& q, std::uint32_t lo, std::uint32_t hi, bool ascending, Visit visit,
                     std::size_t max_looks = SIZE_MAX, bool broad_only = false) const;

  /// The rule of lowest rank below `limit` that `holds(rule)` accepts among
  /// those filed where the point lies, or -1: for "which rule decides this
  /// packet", the question lint asks most. After `max_asks` calls of
  /// `holds` the search gives up: then the answer is the best rule found so
  /// far, or -2 when there is none.
  template <typename Holds>
  std::int64_t first_holding(const Point& v, std::uint32_t limit, Holds holds, std::size_t max_asks = SIZE_MAX) const;

 private:
  /// The three kinds of rule, each filed its own way (see the top of the file).
  enum Kind : std::uint8_t { ByDst, BySrc, Broad };
  struct Files {
    /// The rules filed under port p are by_port[first[p], first[p + 1]), by rank.
    std::vector<std::uint32_t> first;
    std::vector<std::uint32_t> by_port;
    std::vector<std::uint32_t> any_port;  ///< too many ports to file, by rank
    std::vector<std::uint32_t> all;       ///< every rule of the kind, by rank
    std::span<const std::uint32_t> port(std::size_t p) const {
      return {by_port.data() + first[p], by_port.data() + first[p + 1]};
    }
  };

  /// Lists of rules sorted by rank that together hold every rule of kind
  /// `kind` whose hull may meet `q`.
  void sources(const Query& q, Kind kind, std::vector<std::span<const std::uint32_t>>& lists) const;
  static bool overlap(const Hull& a, const Hull& b);
  /// Per rule, the query that last handed it out. Kept per thread, so lint's
  /// passes can ask from two threads at once.
  struct Marks {
    std::vector<std::uint32_t> seen;
    std::uint32_t epoch = 0;
  };
  /// Starts a query: every rule counts as not yet handed out.
  Marks& start_query() const;

  const std::vector<std::uint32_t>& rank_;
  std::vector<Hull> hulls_;  ///< per rule
  Stabber by_dst_, by_src_;
  std::array<Files, 3> files_;
};

template <typename Each>
void Stabber::overlapping(ir::U128 lo, ir::U128 hi, Each each) const {
  for (std::size_t c : used_) {
    const auto& runs = classes_[c];
    for (auto it = first_run(runs, c, lo); it != runs.end() && it->lo <= hi; ++it)
      if (it->hi >= lo) each(std::span<const std::uint32_t>(rules_.data() + it->first, it->count));
  }
}

template <typename Each>
void Stabber::holding(ir::U128 x, std::size_t port, Each each) const {
  for (std::size_t c : used_) {
    const auto& runs = classes_[c];
    for (auto it = first_run(runs, c, x); it != runs.end() && it->lo <= x; ++it) {
      if (it->hi < x) continue;
      if (it->split == UINT32_MAX) {
        each(std::span<const std::uint32_t>(rules_.data() + it->first, it->count));
        continue;
      }
      const Split& s = splits_[it->split];
      auto at = std::lower_bound(s.at.begin(), s.at.end() - 1, std::pair<std::uint32_t, std::uint32_t>(port, 0));
      if (at != s.at.end() - 1 && at->first == port)
        each(std::span<const std::uint32_t>(s.rules.data() + at->second, (at + 1)->second - at->second));
      if (!s.any.empty()) each(std::span<const std::uint32_t>(s.any));
    }
  }
}

template <typename Visit>
bool RuleIndex::in_rank_order(const Query& q, std::uint32_t lo, std::uint32_t hi, bool ascending, Visit visit,
                              std::size_t max_looks, bool broad_only) const {
  if (lo > hi || hulls_.empty()) return true;
  std::vector<std::span<const std::uint32_t>> lists;
  for (Kind kind : {ByDst, BySrc, Broad})
    if (!broad_only || kind == Broad) sources(q, kind, lists);
  // Each list cut to the ranks wanted, then merged best first.
  struct Cursor {
    std::span<const std::uint32_t> list;
    std::size_t at;
  };
  std::vector<Cursor> cursors;
  for (auto list : lists) {
    auto first = std::lower_bound(list.begin(), list.end(), lo, [&](std::uint32_t k, std::uint32_t r) { return rank_[k] < r; });
    auto last = std::upper_bound(first, list.end(), hi, [&](std::uint32_t r, std::uint32_t k) { return r < rank_[k]; });
    if (first != last) cursors.push_back({list.subspan(first - list.begin(), last - first), 0});
  }
  auto head = [&](std::uint32_t c) {
    const Cursor& cur = cursors[c];
    return ascending ? cur.list[cur.at] : cur.list[cur.list.size() - 1 - cur.at];
  };
  auto later = [&](std::uint32_t a, std::uint32_t b) {  // heap order: the best head on top
    std::uint32_t ra = rank_[head(a)], rb = rank_[head(b)];
    return ascending ? ra > rb : ra < rb;
  };
  std::vector<std::uint32_t> heap;
  for (std::uint32_t i = 0; i < cursors.size(); ++i) heap.push_back(i);
  std::make_heap(heap.begin(), heap.end(), later);
  Marks& marks = start_query();
  std::size_t looks = 0;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    std::uint32_t c = heap.back(), k = head(c);
    if (++cursors[c].at < cursors[c].list.size()) std::push_heap(heap.begin(), heap.end(), later);
    else heap.pop_back();
    if (marks.seen[k] == marks.epoch) continue;
    marks.seen[k] = marks.epoch;
    if (looks++ == max_looks) return false;
    if (overlap(hulls_[k], q.hull) && !visit(k)) return true;
  }
  return true;
}

template <typename Holds>
std::int64_t RuleIndex::first_holding(const Point& v, std::uint32_t limit, Holds holds, std::size_t max_asks) const {
  std::int64_t best = -1;
  std::uint32_t best_rank = limit;  // only ranks below this still count
  std::size_t asks = 0;
  auto scan = [&](std::span<const std::uint32_t> list) {  // by rank: the first that holds is the one
    for (std::uint32_t k : list) {
      if (rank_[k] >= best_rank) return;
      if (asks++ >= max_asks) return;
      if (holds(k)) {
        best = k, best_rank = rank_[k];
        return;
      }
    }
  };
  if (hulls_.empty()) return best;
  auto port = static_cast<std::size_t>(v[static_cast<std::size_t>(Field::Dport)]);
  // Broad rules first: a broad rule of high precedence that holds the point
  // cuts every later search short.
  scan(files_[Broad].port(port));
  scan(files_[Broad].any_port);
  for (Kind kind : {ByDst, BySrc}) {
    const Stabber& by_addr = kind == ByDst ? by_dst_ : by_src_;
    ir::U128 addr = v[static_cast<std::size_t>(kind == ByDst ? Field::Dst : Field::Src)];
    by_addr.holding(addr, port, scan);
  }
  if (best < 0 && asks > max_asks) return -2;
  return best;
}

}  // namespace rulec::analysis
