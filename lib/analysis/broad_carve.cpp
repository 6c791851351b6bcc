// What the broad rules take from a box, worked out once per box shape.
//
// A broad rule names no address: its match holds every address of its
// family. So what the broad rules of rank up to R take from a box depends
// only on the box's other fields (its "shape") and on R, never on its
// addresses. Lint asks this for every rule it cannot settle cheaply, and
// rules with the same shape are common (every `to X port 443` rule of one
// direction and interface shares one), while the broad rules on a popular
// port number thousands. So the carve is done once per shape, in rank
// order, carried on as far as questions reach, and each step kept: a
// question for rank R takes the last step at or below R.
#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "analysis/decisions.hpp"

namespace rulec::analysis {

namespace {

/// The box with its addresses replaced.
Box with_addresses(const Box& b, std::span<const Interval> src, std::span<const Interval> dst) {
  Box::Builder out;
  for (std::size_t f = 0; f < kFieldCount; ++f)
    out.add(f == kSrc ? src : f == kDst ? dst : b[static_cast<Field>(f)]);
  return out.take();
}

/// The fields of a box but its addresses, as bytes: the memo's key.
std::string shape_key(const Box& b) {
  std::string key;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    if (f == kSrc || f == kDst) continue;
    auto values = b[static_cast<Field>(f)];
    auto n = static_cast<std::uint16_t>(values.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(Interval));
  }
  return key;
}

}  // namespace

/// One shape's carve, as far as it was asked for: the broad rules that took
/// packets, in rank order, and what was left after every kSnapshot of them.
struct Decisions::BroadSteps {
  static constexpr std::size_t kSnapshot = 16;
  std::string key;
  std::vector<std::uint32_t> takers;
  std::vector<std::size_t> peak;     ///< the most boxes the rest had up to each step
  std::vector<PacketSet> snapshots;  ///< [j]: the rest after the first j * kSnapshot takers
  PacketSet rest;                    ///< after every taker
  std::uint32_t through = 0;         ///< every broad rule of rank below this was looked at
  bool finished = false;             ///< nothing left to take, or no rule left to look at
  std::uint32_t fails_from = UINT32_MAX;  ///< questions for this rank or higher get no answer
  std::size_t looks = 0;
  std::size_t boxes = 0;             ///< boxes kept (snapshots and rest), for the memo's size
};

/// One thread's memo. Each thread that asks keeps its own, so the threads
/// of lint never wait for each other's carves.
struct Decisions::BroadShapes {
  std::unordered_map<std::string, std::unique_ptr<BroadSteps>> by_shape;
  std::size_t boxes = 0;
};

struct Decisions::BroadMemo {
  std::mutex lock;  ///< guards `threads` only
  std::vector<std::pair<std::thread::id, std::unique_ptr<BroadShapes>>> threads;
  BroadShapes& mine() {
    std::lock_guard<std::mutex> hold(lock);
    auto me = std::this_thread::get_id();
    for (auto& [id, shapes] : threads)
      if (id == me) return *shapes;
    return *threads.emplace_back(me, std::make_unique<BroadShapes>()).second;
  }
};

std::shared_ptr<Decisions::BroadMemo> Decisions::make_broad_memo() { return std::make_shared<BroadMemo>(); }

Decisions::BroadSteps& Decisions::broad_steps(const Box& shape, std::string key, std::uint32_t last_rank) const {
  BroadShapes& memo = broad_->mine();
  auto found = memo.by_shape.find(key);
  // Steps stay true while every rule that took part lives: removing a rule
  // that took nothing changes no step.
  if (found != memo.by_shape.end() &&
      std::any_of(found->second->takers.begin(), found->second->takers.end(), [&](std::uint32_t k) { return dead(k); })) {
    memo.boxes -= found->second->boxes;
    memo.by_shape.erase(found);
    found = memo.by_shape.end();
  }
  if (found == memo.by_shape.end()) {
    if (memo.boxes > kMaxBroadBoxes) {  // too large: start again
      memo.by_shape.clear();
      memo.boxes = 0;
    }
    auto fresh = std::make_unique<BroadSteps>();
    fresh->key = key;
    fresh->rest.add_disjoint(shape);
    fresh->snapshots.push_back(fresh->rest);
    fresh->boxes = 2;
    memo.boxes += 2;
    found = memo.by_shape.emplace(std::move(key), std::move(fresh)).first;
  }
  BroadSteps& steps = *found->second;
  if (steps.finished || steps.fails_from != UINT32_MAX || last_rank < steps.through) return steps;
  // Carry the carve on to last_rank.
  std::uint32_t last_seen = steps.through;
  bool stopped = false;
  std::size_t before = steps.boxes, rest_before = steps.rest.boxes().size();
  bool complete = index_->in_rank_order(
      RuleIndex::query_of(steps.snapshots.front()), steps.through, last_rank, true,
      [&](std::uint32_t k) {
        last_seen = rank_[k];
        if (dead(k) || !steps.rest.take_away(matches_[k])) return true;
        std::size_t peak = std::max(steps.rest.boxes().size(), steps.peak.empty() ? 0 : steps.peak.back());
        if (peak > kMaxBroadSplit) {  // questions from this rank on get no answer
          steps.fails_from = rank_[k];
          stopped = true;
          return false;
        }
        steps.takers.push_back(k);
        steps.peak.push_back(peak);
        if (steps.takers.size() % BroadSteps::kSnapshot == 0) {
          steps.snapshots.push_back(steps.rest);
          steps.boxes += steps.rest.boxes().size();
        }
        return !steps.rest.empty();
      },
      kMaxBroadLooks - std::min(steps.looks, kMaxBroadLooks), RuleIndex::Which::Broad, &steps.looks);
  if (!stopped) {  // (when stopped, fails_from marks where the rest split too much)
    if (!complete) steps.fails_from = last_seen + 1;  // every rule up to last_seen was looked at
    else if (steps.rest.empty() || last_rank == UINT32_MAX) steps.finished = true;
    else steps.through = last_rank + 1;
  }
  steps.boxes = steps.boxes - rest_before + steps.rest.boxes().size();
  memo.boxes = memo.boxes - before + steps.boxes;
  return steps;
}

std::optional<PacketSet> Decisions::broad_carve(const PacketSet& set, std::uint32_t last_rank, std::size_t budget,
                                                std::vector<std::uint32_t>* takers) const {
  PacketSet out;
  std::vector<std::uint32_t> took;
  const Interval nowhere{0, 0};
  for (const Box& b : set.boxes()) {
    // Boxes are disjoint and subtracting acts on each alone: each is carved by itself.
    Box shape = with_addresses(b, {&nowhere, 1}, {&nowhere, 1});
    const BroadSteps& steps = broad_steps(shape, shape_key(shape), last_rank);
    if (last_rank >= steps.fails_from) return std::nullopt;
    auto n = static_cast<std::size_t>(
        std::upper_bound(steps.takers.begin(), steps.takers.end(), last_rank,
                         [&](std::uint32_t r, std::uint32_t k) { return r < rank_[k]; }) -
        steps.takers.begin());
    if (n == 0) {
      out.add_disjoint(b);
      continue;
    }
    if (steps.peak[n - 1] > budget) return std::nullopt;
    took.insert(took.end(), steps.takers.begin(), steps.takers.begin() + static_cast<std::ptrdiff_t>(n));
    PacketSet replayed;
    const PacketSet* rest = &steps.rest;
    if (n < steps.takers.size()) {  // from the snapshot before step n
      std::size_t j = n / BroadSteps::kSnapshot;
      replayed = steps.snapshots[j];
      for (std::size_t i = j * BroadSteps::kSnapshot; i < n; ++i) replayed.subtract(matches_[steps.takers[i]]);
      rest = &replayed;
    }
    for (const Box& piece : rest->boxes()) out.add_disjoint(with_addresses(piece, b[Field::Src], b[Field::Dst]));
    if (out.boxes().size() > budget) return std::nullopt;
  }
  std::sort(took.begin(), took.end(), [&](std::uint32_t a, std::uint32_t b) { return rank_[a] < rank_[b]; });
  took.erase(std::unique(took.begin(), took.end()), took.end());
  if (takers) takers->insert(takers->end(), took.begin(), took.end());
  return out;
}

}  // namespace rulec::analysis
