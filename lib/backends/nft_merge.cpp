// How plan() answers its questions fast. Placed rules are filed by their
// destination addresses when they are few, and by their destination ports
// (or port blocks, or protocol), so a question about a host rule looks at
// the rules of that host and the rules for any host that share a port with
// it, not at all of them; the tests are those of nft_summary.hpp, which
// decide most candidates from each entry's summary and the signature the
// lists keep beside its index, without reading the entry and its rule.
// - Which earlier rule holds this one whole? The latest filed candidates,
//   at most kCoverBudget of them.
// - Does it commute with every rule placed in or after a group? Only rules
//   placed since the group was made can be there, and the lists are in
//   placement order, so the search stops at the first older one.
// When a window of rules merges little, the search for a group is off until
// a window merges more: only the last group is extended, and rules with a
// narrow destination are not filed (rules for any destination, which hold
// most covered rules, always are).
#include "backends/nft_merge.hpp"

#include <array>
#include <unordered_map>

#include "backends/nft_summary.hpp"
#include "support/page_mapper.hpp"

namespace rulec::backends::nft_merge {
namespace {

/// A placed entry as the lists keep it.
/// 24 bytes: the lists are read in order, and what they keep of an entry
/// decides most holder tests without a look at its summary (a cache miss).
struct Placed {
  std::uint32_t index;
  std::uint32_t signature;  ///< signature() of its summary
  Listed<2> listed;
};
using List = std::vector<Placed>;

constexpr std::size_t kMaxKeys = 16;
/// Classes are numbered from 0 (Entry::klass); from this one on, an entry joins no other.
constexpr std::uint32_t kMaxClass = 1u << 24;
constexpr std::size_t kBudget = 1024;  ///< overlap tests a rule may cost
/// When a window of this many rules merges less than one in 16, the next
/// window only extends the last group (with rules that overlap none of at
/// most kDirect members): a policy with little to merge costs little more.
constexpr std::uint32_t kWindow = 4096;
constexpr std::size_t kDirect = 256;
constexpr std::size_t kCoverBudget = 16;  ///< containment tests a rule may cost
/// A rule may join a group made at most this many rules earlier: further
/// back, the search mostly costs time and rarely finds a way through.
constexpr std::size_t kSpan = 4096;

/// Up to kMaxKeys + 1 keys, without allocating.
struct Keys {
  std::array<std::uint64_t, kMaxKeys + 1> v;
  std::uint32_t n = 0;
  void push_back(std::uint64_t k) { v[n++] = k; }
  void clear() { n = 0; }
  bool empty() const { return n == 0; }
  std::size_t size() const { return n; }
  std::uint64_t back() const { return v[n - 1]; }
  const std::uint64_t* begin() const { return v.data(); }
  const std::uint64_t* end() const { return v.data() + n; }
};

/// Sets `keys` to the addresses of a narrow destination (at most kMaxKeys);
/// empty when wide. In place: the planner asks this of every entry.
void dst_keys(const ir::Rule& r, Keys& keys) {
  keys.clear();
  for (const auto& range : r.match.dst) {
    if (range.hi - range.lo >= kMaxKeys || keys.size() + static_cast<std::size_t>(range.hi - range.lo) >= kMaxKeys)
      return keys.clear();
    for (ir::U128 k = range.lo; k <= range.hi; ++k)
      keys.push_back(static_cast<std::uint64_t>(k) ^ static_cast<std::uint64_t>(k >> 64) * 0x9e3779b97f4a7c15ULL);
  }
}

using Filed = std::unordered_map<std::uint64_t, List>;

/// Entries filed by destination port: those of at most kMaxKeys ports by
/// port, those of at most kMaxKeys blocks of 64 ports by block, the others
/// (no or many ports) by protocol when they have one.
class PortIndex {
 public:
  /// The filing of one entry: its ports, else its port blocks, else neither.
  struct Filing {
    Keys ports, blocks;
    int protocol = -1;  ///< the single protocol, or -1
    bool ported = true;  ///< may be tcp, udp or sctp
    Keys protocols;      ///< when not ported: its protocols (empty: too many)
  };
  /// Sets `k` to the filing of entry `e`, in place (the planner asks this
  /// of every entry); `p`: the entry's protocols (protocols_of).
  static void keys(const Entry& e, const Protocols& p, Filing& k) {
    const AltFields alt = e.alt();
    k.ports.clear();
    k.blocks.clear();
    k.protocols.clear();
    k.protocol = -1;
    std::size_t n = 0;
    for (const auto& r : alt.dport) n += r.hi - r.lo + 1u;
    if (!alt.dport.empty() && n <= kMaxKeys)
      for (const auto& r : alt.dport)
        for (unsigned v = r.lo; v <= r.hi; ++v) k.ports.push_back(v);
    if (!alt.dport.empty())
      for (const auto& r : alt.dport)
        for (unsigned b = r.lo >> 6; b <= (r.hi >> 6u) && k.blocks.size() <= kMaxKeys; ++b)
          if (k.blocks.empty() || k.blocks.back() != b) k.blocks.push_back(b);
    if (k.blocks.size() > kMaxKeys) k.blocks.clear();
    if (!alt.negate_protocols && alt.protocols.size() == 1 && alt.protocols[0].lo == alt.protocols[0].hi)
      k.protocol = alt.protocols[0].lo;
    k.ported = p[ir::proto::tcp] || p[ir::proto::udp] || p[ir::proto::sctp];
    if (k.ported) return;
    if (!alt.negate_protocols && !alt.protocols.empty()) {  // the values in order, from the ranges
      std::size_t count = 0;
      for (const auto& r : alt.protocols) count += r.hi - r.lo + 1u;
      if (count <= kMaxKeys)
        for (const auto& r : alt.protocols)
          for (unsigned v = r.lo; v <= r.hi; ++v) k.protocols.push_back(v);
    } else if (p.count() <= kMaxKeys) {
      for (unsigned v = 0; v < 256; ++v)
        if (p[v]) k.protocols.push_back(v);
    }
  }
  void file(Placed i, const Filing& k) {
    if (!k.ports.empty()) {
      if (by_port_.empty()) by_port_.resize(65536), ported_by_block_.resize(1024);
      for (auto p : k.ports) by_port_[p].push_back(i), port_filed_[p >> 6] |= std::uint64_t{1} << (p & 63);
      for (auto b : k.blocks) ported_by_block_[b].push_back(i);
    } else if (!k.blocks.empty()) {
      if (by_block_.empty()) by_block_.resize(1024);
      for (auto b : k.blocks) by_block_[b].push_back(i);
    } else if (k.protocol >= 0) {
      by_protocol_[k.protocol].push_back(i);
    } else {
      rest_.push_back(i);
    }
    all_.push_back(i);
  }
  /// Calls `each(list)` with lists that hold every filed entry whose ports
  /// and protocol may meet those of `k`; returns early when `each` is true.
  template <typename Each>
  bool query(const Filing& k, Each each) const {
    auto in = [&](const Filed& f, std::uint64_t key) {
      auto it = f.find(key);
      return it != f.end() && each(it->second);
    };
    auto at = [&](const Direct& d, std::uint64_t key) { return key < d.size() && !d[key].empty() && each(d[key]); };
    if (k.ports.empty() && k.blocks.empty()) {
      if (k.ported || k.protocols.empty()) return each(all_);
      // no ports, no port protocol: only entries filed by protocol may meet it
      for (auto p : k.protocols)
        if (in(by_protocol_, p)) return true;
      return each(rest_);
    }
    if (!k.ports.empty()) {
      for (auto p : k.ports)  // the bits first: most ports have no list, and the lists' table is 1.5 MB
        if ((port_filed_[p >> 6] >> (p & 63) & 1) && at(by_port_, p)) return true;
    } else {
      for (auto b : k.blocks)
        if (at(ported_by_block_, b)) return true;
    }
    for (auto b : k.blocks)
      if (at(by_block_, b)) return true;
    if (k.protocol >= 0) return in(by_protocol_, static_cast<std::uint64_t>(k.protocol)) || each(rest_);
    for (const auto& [p, list] : by_protocol_)
      if (each(list)) return true;
    return each(rest_);
  }

 private:
  /// By port (65,536 lists) and by block of 64 ports (1,024), made on first use.
  using Direct = std::vector<List>;
  Direct by_port_, ported_by_block_, by_block_;
  std::array<std::uint64_t, 1024> port_filed_{};  ///< a bit a port: by_port_ has entries for it
  Filed by_protocol_;  // iterated: its order decides which entries a search reaches first
  List rest_, all_;
};

class PlannerCore {
 public:
  PlannerCore(const std::vector<Entry>& entries, std::size_t expected) : entries_(entries) {
    summaries_.reserve(expected + expected / 4);
    group_of_.reserve(expected + expected / 4);
    covered_by_.reserve(expected + expected / 4);
    // A large plan's summaries are tens of megabytes of fresh memory: mapped
    // at once, a third cheaper than a page fault at a time.
    if (expected >= linux_fw::kMapPagesFrom) {
      support::map_now(summaries_.data(), summaries_.data() + expected);
      support::map_now(group_of_.data(), group_of_.data() + expected);
      support::map_now(covered_by_.data(), covered_by_.data() + expected);
    }
  }

  /// The plan of the entries placed.
  Plan finish() {
    const auto n = static_cast<std::uint32_t>(group_of_.size());
    Plan plan;  // the members of each group in placement order: a counting sort by group
    plan.starts.assign(size_.size() + 1, 0);
    for (std::size_t g = 0; g < size_.size(); ++g) plan.starts[g + 1] = plan.starts[g] + size_[g];
    plan.entries.resize(n);
    std::vector<std::uint32_t> next(plan.starts.begin(), plan.starts.end() - 1);
    for (std::uint32_t i = 0; i < n; ++i) plan.entries[next[group_of_[i]]++] = i;
    plan.covered_by = std::move(covered_by_);
    return plan;
  }

  /// Places entry `i`, the next one (entries before it are placed), when an
  /// earlier entry holds it whole; else false, and place(i) follows.
  bool place_covered(std::uint32_t i) {
    if (i % kWindow == 0 && i > 0) next_window(i);
    const Entry& e = entries_[i];
    summaries_.push_back(summary_of(e));
    signature_ = signature(summaries_.back());
    protocols_ = protocols_of(e.alt());
    group_of_.push_back(0);
    covered_by_.push_back(kNone);
    dst_keys(*e.rule, dst_);
    PortIndex::keys(e, protocols_, ports_);
    if (std::uint32_t by = cover(i, dst_, ports_); by != kNone) {
      covered_by_[i] = by;
      put(i, SIZE_MAX);  // a group of its own, written as a comment; never filed
      return true;
    }
    return false;
  }

  /// Places entry `i` after place_covered(i) found no entry that holds it.
  void place(std::uint32_t i) {
    const Entry& e = entries_[i];
    const Keys& dst = dst_;
    const PortIndex::Filing& ports = ports_;
    std::size_t at = SIZE_MAX;
    const Groups* groups = e.klass < classes_.size() && classes_[e.klass].latest != kNone ? &classes_[e.klass] : nullptr;
    if (groups && !searching_) {
      if (groups->latest + 1 == size_.size() && joins_last(i)) at = size_.size() - 1;
    } else if (groups) {
      // the class's largest group, else its latest: a rule that cannot move
      // up as far as the largest group still joins the others near it
      auto [largest, latest] = *groups;
      if (fits(i, largest, dst, ports)) at = largest;
      else if (latest != largest && fits(i, latest, dst, ports)) at = latest;
    }
    put(i, at);
    // Rules for any destination are filed always (they are what covers
    // rules, mostly); the others only while searching (fits() looks only at
    // entries placed since the search began; cover() finds what it finds).
    const Placed placed{i, signature_, listed_of<2>(e)};
    if (dst.empty()) return wide_dst_.file(placed, ports);
    if (!searching_) return;
    for (auto k : dst) by_dst_[k].push_back(placed);
    narrow_dst_.file(placed, ports);
  }

 private:
  /// Every kWindow rules: search on (again) when the last window merged
  /// enough, else only extend the last group until a window merges enough.
  /// Merged: in a group that will become a set (of min_merged entries).
  void next_window(std::uint32_t i) {
    std::size_t merged = 0;
    for (std::uint32_t j = i - kWindow; j < i; ++j) merged += size_[group_of_[j]] >= min_merged;
    bool enough = merged * 16 >= kWindow;
    if (enough && !searching_) searching_since_ = i;
    searching_ = enough;
  }

  /// An earlier entry that matches every packet entry `i` matches (so `i`
  /// never decides one), or kNone when none is found within kCoverBudget tests.
  std::uint32_t cover(std::uint32_t i, const Keys& dst, const PortIndex::Filing& ports) {
    std::size_t work = 0;
    std::uint32_t by = kNone;
    auto holder = [&](const List& list) {
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        if (++work > kCoverBudget) return true;
        const std::uint32_t m = it->index;
        if (holds_in_steps(it->signature, it->listed, summaries_[m], entries_[m], signature_, summaries_[i],
                           entries_[i], protocols_))
          return by = m, true;
      }
      return false;
    };
    if (!dst.empty()) {  // a narrow holder is filed under each of its addresses, so under this one
      auto it = by_dst_.find(dst.v[0]);
      if (it != by_dst_.end() && holder(it->second)) return by;
    }
    wide_dst_.query(ports, holder);
    return by;
  }

  /// True when entry `i` overlaps no member of the last group (a short one).
  bool joins_last(std::uint32_t i) const {
    if (last_.size() > kDirect) return false;
    for (std::uint32_t m : last_)
      if (meets_in_steps(summaries_[m], entries_[m], summaries_[i], entries_[i], protocols_)) return false;
    return true;
  }

  /// Puts entry `i` into group `at`, or into a new group when SIZE_MAX.
  void put(std::uint32_t i, std::size_t at) {
    const Entry& e = entries_[i];
    // a covered entry's group takes no other; past kMaxClass, classes are ignored
    const std::uint32_t klass = covered_by_[i] == kNone && e.klass < kMaxClass ? e.klass : kAlone;
    if (klass != kAlone && klass >= classes_.size()) classes_.resize(klass + 1);
    if (at == SIZE_MAX) {
      at = size_.size();
      size_.push_back(0);
      first_.push_back(i);
      last_.clear();
      if (klass != kAlone) {
        Groups& g = classes_[klass];
        if (g.latest == kNone) g.largest = static_cast<std::uint32_t>(at);
        g.latest = static_cast<std::uint32_t>(at);
      }
    }
    ++size_[at];
    if (at + 1 == size_.size()) last_.push_back(i);
    if (klass != kAlone && size_[at] > size_[classes_[klass].largest]) classes_[klass].largest = static_cast<std::uint32_t>(at);
    group_of_[i] = static_cast<std::uint32_t>(at);
  }

  /// True when entry `i` may join group `at`: no placed entry of that group
  /// overlaps it, nor any of a later group with another effect.
  bool fits(std::uint32_t i, std::size_t at, const Keys& dst, const PortIndex::Filing& ports) {
    const std::uint32_t first = first_[at];
    if (i - first > kSpan || first < searching_since_) return false;  // entries since are all filed
    std::size_t work = 0;
    bool over = false;
    auto conflict = [&](const List& list) {
      // Entries placed before the group was made lie in earlier groups:
      // the lists are in placement order, so the search stops at them.
      for (auto it = list.rbegin(); it != list.rend() && it->index >= first; ++it) {
        const std::uint32_t m = it->index;
        if (++work > kBudget) return over = true;
        if (group_of_[m] < at) continue;
        if (group_of_[m] != at && entries_[m].effect == entries_[i].effect) continue;
        if (meets_in_steps(summaries_[m], entries_[m], summaries_[i], entries_[i], protocols_)) return true;
      }
      return false;
    };
    if (!dst.empty()) {
      for (auto k : dst)
        if (auto it = by_dst_.find(k); it != by_dst_.end() && conflict(it->second)) return false;
    } else if (narrow_dst_.query(ports, conflict)) {
      return false;
    }
    return !wide_dst_.query(ports, conflict) && !over;
  }

  const std::vector<Entry>& entries_;
  std::vector<Summary> summaries_;
  // of the entry being placed
  std::uint32_t signature_ = 0;  ///< signature() of its summary
  Protocols protocols_;
  Keys dst_;
  PortIndex::Filing ports_;
  std::vector<std::uint32_t> group_of_;
  std::vector<std::uint32_t> size_, first_;  ///< per group: members, the first one
  std::vector<std::uint32_t> last_;          ///< the members of the last group
  /// Per class: its largest group and its latest group (kNone: no group yet).
  struct Groups {
    std::uint32_t largest = kNone, latest = kNone;
  };
  std::vector<Groups> classes_;
  Filed by_dst_;             ///< placed entries with a narrow destination, by address
  PortIndex narrow_dst_;     ///< the same by port
  PortIndex wide_dst_;       ///< the others
  std::vector<std::uint32_t> covered_by_;
  bool searching_ = true;    ///< search for the group to join
  std::uint32_t searching_since_ = 0;
};

}  // namespace

bool overlap(const Entry& a, const Entry& b) {
  return (families_of(*a.rule) & families_of(*b.rule)) && protocols_of(a.alt()).meets(protocols_of(b.alt())) &&
         same_place(a, b);
}

struct Planner::Impl : PlannerCore {
  using PlannerCore::PlannerCore;
};

Planner::Planner(const std::vector<Entry>& entries, std::size_t expected)
    : impl_(std::make_unique<Impl>(entries, expected)) {}
Planner::~Planner() = default;
bool Planner::place_covered(std::uint32_t i) { return impl_->place_covered(i); }
void Planner::place(std::uint32_t i) { impl_->place(i); }
Plan Planner::finish() { return impl_->finish(); }

Plan plan(const std::vector<Entry>& entries) {
  Planner planner(entries, entries.size());
  for (std::uint32_t i = 0; i < entries.size(); ++i)
    if (!planner.place_covered(i)) planner.place(i);
  return planner.finish();
}

}  // namespace rulec::backends::nft_merge
