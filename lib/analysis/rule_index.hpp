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

/// What the index keeps per rule, in one place: its rank, and the fields
/// that tell rules apart cheaply, narrowed to a few bytes (the interface and
/// protocol clamped to 255), so a look at a rule that cannot meet a query
/// costs no visit to the rule itself.
struct IndexEntry {
  std::uint32_t rank;
  std::uint16_t dport_lo, dport_hi;
  std::uint8_t iface_lo, iface_hi, proto_lo, proto_hi;
  std::uint8_t directions, families;  ///< bit v set: value v is in the hull
};

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
  using List = std::span<const std::uint32_t>;
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
  /// `which` picks the rules handed out: all, only those that name no
  /// address (broad), or only those that name one.
  /// `*looked` (when given) grows by the number of rules looked at.
  enum class Which : std::uint8_t { All, Broad, Addressed };
  template <typename Visit>
  bool in_rank_order(const Query& q, std::uint32_t lo, std::uint32_t hi, bool ascending, Visit visit,
                     std::size_t max_looks = SIZE_MAX, Which which = Which::All, std::size_t* looked = nullptr) const;

  /// True when rule k's hull holds `h`: a rule holding a set holds its hull.
  bool hull_holds(std::uint32_t k, const Hull& h) const {
    const RuleHull& mine = hulls_[k];
    constexpr std::size_t order[] = {5, 7, 4, 3, 0, 1, 6, 2, 8};  // the fields that differ most often first
    for (std::size_t f : order)
      if (h[f].lo < mine.lo(f) || mine.hi(f) < h[f].hi) return false;
    return true;
  }

  /// The rule of lowest rank below `limit` that `holds(rule)` accepts among
  /// those filed where the point lies, or -1: for "which rule decides this
  /// packet", the question lint asks most. After `max_asks` rules the
  /// search gives up: then the answer is the best rule found so far, or -2
  /// when there is none. With `within` (a hull holding the point), only the
  /// rules whose hull holds it are asked: for "which rule holds this set".
  template <typename Holds>
  std::int64_t first_holding(const Point& v, std::uint32_t limit, Holds holds, std::size_t max_asks = SIZE_MAX,
                             const Hull* within = nullptr) const;

 private:
  /// The three kinds of rule, each filed its own way (see the top of the file).
  enum Kind : std::uint8_t { ByDst, BySrc, Broad };
  using List = std::span<const std::uint32_t>;
  struct Files {
    /// The rules filed under port p are by_port[first[p], first[p + 1]), by rank.
    std::vector<std::uint32_t> first;
    std::vector<std::uint32_t> by_port;
    std::vector<std::uint32_t> any_port;  ///< too many ports to file, by rank
    std::vector<std::uint32_t> all;       ///< every rule of the kind, by rank
    List port(std::size_t p) const { return {by_port.data() + first[p], by_port.data() + first[p + 1]}; }
  };
  /// The entry of a rule, from its hull.
  static IndexEntry entry_of(std::uint32_t rank, const Hull& hull);
  /// True when an entry's fields hold the query's (`q` is entry_of the query's hull).
  static bool may_hold(const IndexEntry& e, const IndexEntry& q) {
    return !(q.directions & ~e.directions) && !(q.families & ~e.families) && e.dport_lo <= q.dport_lo &&
           q.dport_hi <= e.dport_hi && e.iface_lo <= q.iface_lo && q.iface_hi <= e.iface_hi &&
           e.proto_lo <= q.proto_lo && q.proto_hi <= e.proto_hi;
  }
  /// True when an entry's fields may meet the query's (`q` is entry_of the query's hull).
  static bool may_meet(const IndexEntry& e, const IndexEntry& q) {
    return (e.directions & q.directions) && (e.families & q.families) && e.dport_lo <= q.dport_hi &&
           q.dport_lo <= e.dport_hi && e.iface_lo <= q.iface_hi && q.iface_lo <= e.iface_hi &&
           e.proto_lo <= q.proto_hi && q.proto_lo <= e.proto_hi;
  }

  /// Lists of rules sorted by rank that together hold every rule of kind
  /// `kind` whose hull may meet `q`.
  void sources(const Query& q, Kind kind, std::vector<List>& lists) const;
  /// Per rule, the query that last handed it out. Kept per thread, so lint's
  /// passes can ask from two threads at once.
  struct Marks {
    std::vector<std::uint32_t> seen;
    std::uint32_t epoch = 0;
  };
  /// Starts a query: every rule counts as not yet handed out.
  Marks& start_query() const;
  /// A list's next rule in a merge, keyed so that the best comes first.
  struct Head {
    std::uint32_t key, c;
  };
  /// Per-thread room for in_rank_order's lists and merge.
  struct Scratch {
    std::vector<List> lists, cursors;
    std::vector<Head> heap;
  };
  static Scratch& scratch() {
    thread_local Scratch room;
    return room;
  }

  /// A rule's hull as the index keeps it: the addresses at full width, the
  /// other fields (all below 2^32 in the packet universe) in 32 bits, so
  /// a look at it reads two cache lines, not five.
  struct alignas(64) RuleHull {
    ir::U128 addr[4];                  ///< src lo, src hi, dst lo, dst hi
    std::uint32_t small[kFieldCount - 2][2];  ///< the other fields' lo, hi, in Field order
    static constexpr std::size_t slot(std::size_t f) { return f < kSrc ? f : f - 2; }
    ir::U128 lo(std::size_t f) const { return f == kSrc ? addr[0] : f == kDst ? addr[2] : ir::U128(small[slot(f)][0]); }
    ir::U128 hi(std::size_t f) const { return f == kSrc ? addr[1] : f == kDst ? addr[3] : ir::U128(small[slot(f)][1]); }
    static RuleHull of(const Hull& h);
  };
  /// True when a rule's hull and a query's share a value in every field.
  static bool overlap(const RuleHull& a, const Hull& b);

  const std::vector<std::uint32_t>& rank_;
  std::vector<RuleHull> hulls_;  ///< per rule
  std::vector<IndexEntry> entries_;  ///< per rule
  Stabber by_dst_, by_src_;
  std::array<Files, 3> files_;
};

template <typename Each>
void Stabber::overlapping(ir::U128 lo, ir::U128 hi, Each each) const {
  for (std::size_t c : used_) {
    const auto& runs = classes_[c];
    for (auto it = first_run(runs, c, lo); it != runs.end() && it->lo <= hi; ++it)
      if (it->hi >= lo) each(List(rules_.data() + it->first, it->count));
  }
}

template <typename Each>
void Stabber::holding(ir::U128 x, std::size_t port, Each each) const {
  for (std::size_t c : used_) {
    const auto& runs = classes_[c];
    for (auto it = first_run(runs, c, x); it != runs.end() && it->lo <= x; ++it) {
      if (it->hi < x) continue;
      if (it->split == UINT32_MAX) {
        each(List(rules_.data() + it->first, it->count));
        continue;
      }
      const Split& s = splits_[it->split];
      auto at = std::lower_bound(s.at.begin(), s.at.end() - 1, std::pair<std::uint32_t, std::uint32_t>(port, 0));
      if (at != s.at.end() - 1 && at->first == port)
        each(List(s.rules.data() + at->second, (at + 1)->second - at->second));
      if (!s.any.empty()) each(List(s.any));
    }
  }
}

template <typename Visit>
bool RuleIndex::in_rank_order(const Query& q, std::uint32_t lo, std::uint32_t hi, bool ascending, Visit visit,
                              std::size_t max_looks, Which which, std::size_t* looked) const {
  if (lo > hi || hulls_.empty()) return true;
  Scratch& room = scratch();  // one query at a time per thread, as with the marks
  std::vector<List>& lists = room.lists;
  lists.clear();
  for (Kind kind : {ByDst, BySrc, Broad})
    if (which == Which::All || (which == Which::Broad) == (kind == Broad)) sources(q, kind, lists);
  // Each list cut to the ranks wanted, then merged best first: a heap of
  // the lists' heads, keyed so that the best head is the smallest key.
  std::vector<List>& cursors = room.cursors;
  cursors.clear();
  for (List list : lists) {
    auto first = std::lower_bound(list.begin(), list.end(), lo, [&](std::uint32_t k, std::uint32_t r) { return entries_[k].rank < r; });
    auto last = std::upper_bound(first, list.end(), hi, [&](std::uint32_t r, std::uint32_t k) { return r < entries_[k].rank; });
    if (first != last) cursors.push_back(list.subspan(static_cast<std::size_t>(first - list.begin()), static_cast<std::size_t>(last - first)));
  }
  auto key_of = [&](const List& cur) {
    std::uint32_t rank = entries_[ascending ? cur.front() : cur.back()].rank;
    return ascending ? rank : UINT32_MAX - rank;
  };
  std::vector<Head>& heap = room.heap;
  heap.clear();
  for (std::uint32_t i = 0; i < cursors.size(); ++i) heap.push_back({key_of(cursors[i]), i});
  auto sift_down = [&](std::size_t i) {
    const std::size_t n = heap.size();
    Head moving = heap[i];
    for (std::size_t child; (child = 2 * i + 1) < n; i = child) {
      if (child + 1 < n && heap[child + 1].key < heap[child].key) ++child;
      if (moving.key <= heap[child].key) break;
      heap[i] = heap[child];
    }
    heap[i] = moving;
  };
  for (std::size_t i = heap.size() / 2; i-- > 0;) sift_down(i);
  const IndexEntry asked = entry_of(0, q.hull);
  Marks& marks = start_query();
  std::size_t looks = 0;
  struct Count {  // adds the looks to *looked however the search ends
    std::size_t* to;
    const std::size_t& looks;
    ~Count() {
      if (to) *to += looks;
    }
  } count{looked, looks};
  while (!heap.empty()) {
    List& cur = cursors[heap.front().c];
    std::uint32_t k = ascending ? cur.front() : cur.back();
    bool meets = may_meet(entries_[k], asked);
    cur = ascending ? cur.subspan(1) : cur.first(cur.size() - 1);
    if (!cur.empty()) {
      heap.front().key = key_of(cur);
    } else {
      heap.front() = heap.back();
      heap.pop_back();
    }
    if (!heap.empty()) sift_down(0);
    if (marks.seen[k] == marks.epoch) continue;
    marks.seen[k] = marks.epoch;
    if (looks++ == max_looks) return false;
    if (meets && overlap(hulls_[k], q.hull) && !visit(k)) return true;
  }
  return true;
}

template <typename Holds>
std::int64_t RuleIndex::first_holding(const Point& v, std::uint32_t limit, Holds holds, std::size_t max_asks,
                                      const Hull* within) const {
  std::int64_t best = -1;
  std::uint32_t best_rank = limit;  // only ranks below this still count
  std::size_t asks = 0;
  const IndexEntry asked = entry_of(0, within ? *within : query_of(v).hull);
  auto scan = [&](List list) {  // by rank: the first that holds is the one
    for (std::uint32_t k : list) {
      const IndexEntry& e = entries_[k];
      if (e.rank >= best_rank) return;
      if (asks++ >= max_asks) return;
      if (may_hold(e, asked) && holds(k)) {
        best = k, best_rank = e.rank;
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
