// Decisions over packet sets: last match, `done`, defaults.
#include "analysis/decisions.hpp"

#include <algorithm>

#include "analysis/side_by_side.hpp"

namespace rulec::analysis {

namespace {

std::vector<PacketSet> rule_sets(const ir::Policy& policy) {
  std::vector<PacketSet> out(policy.rules.size());
  auto make = [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) out[r] = PacketSet::of(policy.rules[r].match, policy);
  };
  std::size_t half = out.size() / 2;
  if (out.size() < Decisions::kTwoThreads) make(0, out.size());
  else side_by_side([&] { make(half, out.size()); }, [&] { make(0, half); });
  return out;
}

/// A few packets spread over a box: its lowest corner, its highest corner
/// and a point in the middle of its middle ranges.
std::vector<Point> probe_points(const Box& b) {
  std::vector<Point> out(3);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto s = b[static_cast<Field>(f)];
    const Interval& mid = s[s.size() / 2];
    out[0][f] = s.front().lo;
    out[1][f] = s.back().hi;
    out[2][f] = mid.lo + (mid.hi - mid.lo) / 2;
  }
  return out;
}

Packet to_packet(const Point& v, const ir::Policy& policy) {
  Packet p;
  p.direction = static_cast<ir::Direction>(static_cast<int>(v[0]));
  auto iface = static_cast<std::size_t>(v[1]);
  p.interface = iface < policy.interfaces.size() ? policy.interfaces[iface] : "";
  p.family = static_cast<ir::Family>(static_cast<int>(v[2]));
  p.protocol = static_cast<std::uint8_t>(v[3]);
  p.src = v[4];
  p.dst = v[5];
  p.sport = static_cast<std::uint16_t>(v[6]);
  p.dport = static_cast<std::uint16_t>(v[7]);
  p.icmp_type = static_cast<std::uint8_t>(v[8]);
  return p;
}

Point values_of(const Packet& p, const ir::Policy& policy) {
  return {static_cast<ir::U128>(static_cast<int>(p.direction)), interface_index(policy, p),
          static_cast<ir::U128>(static_cast<int>(p.family)), p.protocol, p.src, p.dst, p.sport, p.dport, p.icmp_type};
}

/// The lowest corner of a set's first box: a point of the set.
Point corner_of(const PacketSet& s) {
  const Box& b = s.boxes().front();
  Point corner;
  for (std::size_t f = 0; f < kFieldCount; ++f) corner[f] = b[static_cast<Field>(f)].front().lo;
  return corner;
}

/// The evaluator's order of precedence as ranks (see Decisions::rank).
std::vector<std::uint32_t> ranks_of(const ir::Policy& policy) {
  std::vector<std::uint32_t> rank(policy.rules.size());
  std::uint32_t next = 0;
  for (std::uint32_t i = 0; i < rank.size(); ++i)
    if (policy.rules[i].done) rank[i] = next++;
  for (auto i = static_cast<std::uint32_t>(rank.size()); i-- > 0;)
    if (!policy.rules[i].done) rank[i] = next++;
  return rank;
}

}  // namespace

Decisions::Decisions(const ir::Policy& policy)
    : policy_(policy),
      matches_(rule_sets(policy)),
      rank_(ranks_of(policy)),
      index_(std::make_unique<RuleIndex>(policy, matches_, rank_)),
      by_source_(policy.source_rules.size()) {
  for (std::uint32_t r = 0; r < policy.rules.size(); ++r) {
    std::uint32_t s = policy.rules[r].source_rule;
    if (s >= by_source_.size()) by_source_.resize(s + 1);
    by_source_[s].push_back(r);
  }
  holderless_.assign(matches_.size(), false);
  dead_ = std::make_unique<std::atomic<bool>[]>(matches_.size());
}

void Decisions::remove(std::uint32_t source_rule) {
  for (std::uint32_t k : by_source_[source_rule]) dead_[k].store(true, std::memory_order_relaxed);
}

std::vector<std::vector<std::uint32_t>> Decisions::remove_covered() {
  std::vector<std::vector<std::uint32_t>> holders(by_source_.size());
  std::vector<std::uint32_t> order(matches_.size());
  for (std::uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return rank_[a] < rank_[b]; });
  // Per IR rule, the rule of lowest rank that holds it. That rule is never
  // held by another (one holding it would hold the rule too, at a lower
  // rank), so setting held rules aside first would change no answer: each
  // search stands alone, and from kTwoThreads rules on two threads share them.
  std::vector<std::int64_t> holder(matches_.size(), -1);
  auto search = [&](std::size_t first, std::size_t step) {
    for (std::size_t i = first; i < order.size(); i += step) {
      std::uint32_t r = order[i];
      if (!matches_[r].empty() && rank_[r] != 0) holder[r] = holder_of(matches_[r], rank_[r]);
    }
  };
  if (order.size() < kTwoThreads) search(0, 1);
  else side_by_side([&] { search(1, 2); }, [&] { search(0, 2); });
  // A rule no rule holds now is held by none later either: rules are only
  // ever removed. decided_by skips the search for those.
  for (std::uint32_t r = 0; r < holder.size(); ++r) holderless_[r] = holder[r] == -1;
  std::vector<bool> out(matches_.size(), false);
  for (std::uint32_t r : order) {
    std::uint32_t s = policy_.rules[r].source_rule;
    if (holder[r] < 0 || dead(r)) continue;  // unheld, or set aside with an earlier IR rule of its source rule
    // Out of the way only once every IR rule of its source rule is held.
    const auto& rules = by_source_[s];
    if (std::all_of(rules.begin(), rules.end(), [&](std::uint32_t k) { return holder[k] >= 0 || matches_[k].empty(); })) {
      for (std::uint32_t k : rules) {
        out[k] = true;
        dead_[k].store(true, std::memory_order_relaxed);
        if (holder[k] >= 0) holders[s].push_back(static_cast<std::uint32_t>(holder[k]));
      }
    }
  }
  broad_ = make_broad_memo();  // what it knew was worked out among rules now set aside
  index_.reset();  // the old index goes first: at a million rules the two would not fit twice
  index_ = std::make_unique<RuleIndex>(policy_, matches_, rank_, &out);
  return holders;
}

Effect Decisions::effect_of_rule(std::uint32_t r) const {
  const ir::Rule& rule = policy_.rules[r];
  return {rule.action, rule.action == ir::Action::Pass && rule.state};
}

Effect Decisions::effect_of(const Decision& d) const {
  if (d.rule >= 0) return effect_of_rule(static_cast<std::uint32_t>(d.rule));
  return {policy_.default_for(d.direction).action, false};
}

std::optional<PacketSet> Decisions::decided_by(std::uint32_t r, std::vector<std::uint32_t>* takers,
                                               std::size_t budget, const PacketSet* within,
                                               std::size_t max_looks) const {
  const PacketSet& query = within ? *within : matches_[r];
  if (rank_[r] == 0 || query.empty()) return query;  // the first rule: nothing decides before it
  // One rule that holds all of it settles it at once: the common case of a
  // rule shadowed by a broader one.
  std::int64_t all = within || !holderless_[r] ? holder_of(query, rank_[r]) : -1;
  if (all >= 0) {
    if (takers) takers->push_back(static_cast<std::uint32_t>(all));
    return PacketSet{};
  }
  // Broad rules first: they take whole slices of a set and split it least,
  // so a rule shadowed by several of them is settled without meeting the
  // many narrow rules that take bits of it.
  std::vector<std::uint32_t> took;
  auto rest = broad_carve(query, rank_[r] - 1, budget, &took);
  // Then the rules that name addresses; all of them when the broad carve
  // split the set too much (the plain way decides).
  RuleIndex::Which rest_of = RuleIndex::Which::Addressed;
  if (!rest) rest = query, took.clear(), rest_of = RuleIndex::Which::All;
  if (!rest->empty()) {
    std::vector<std::uint32_t> more;
    rest = carve(*rest, rank_[r] - 1, budget, &more, max_looks, rest_of);
    took.insert(took.end(), more.begin(), more.end());
  }
  if (takers) takers->insert(takers->end(), took.begin(), took.end());
  return rest;
}

std::optional<PacketSet> Decisions::unmatched(const PacketSet& set, std::size_t budget) const {
  return carve(set, UINT32_MAX, budget, nullptr);
}

std::optional<PacketSet> Decisions::carve(const PacketSet& set, std::uint32_t last_rank, std::size_t budget,
                                          std::vector<std::uint32_t>* takers, std::size_t max_looks,
                                          RuleIndex::Which which) const {
  // In the order the evaluator gives precedence, so each rule that takes
  // packets decides them, and a set covered by a broad rule of high
  // precedence stops early.
  PacketSet rest = set;
  bool over = false;
  if (set.empty()) return rest;
  bool complete = index_->in_rank_order(RuleIndex::query_of(set), 0, last_rank, true, [&](std::uint32_t k) {
    if (dead(k) || !rest.take_away(matches_[k])) return true;
    if (takers) takers->push_back(k);
    over = rest.boxes().size() > budget;
    return !over && !rest.empty();
  }, max_looks, which);
  if (over || !complete) return std::nullopt;
  return rest;
}

std::vector<Packet> Decisions::probes(const PacketSet& set) const {
  std::vector<Packet> out;
  if (auto w = set.witness(policy_)) out.push_back(*w);  // a realistic packet first
  std::size_t boxes = std::min<std::size_t>(set.boxes().size(), 4);
  for (std::size_t b = 0; b < boxes; ++b)
    for (const auto& v : probe_points(set.boxes()[b])) out.push_back(to_packet(v, policy_));
  return out;
}

std::int64_t Decisions::holder_of(const PacketSet& set, std::uint32_t limit) const {
  // A rule that holds every point of the set is filed where any one point
  // lies; its hull holds the set's hull, a cheap first test.
  RuleIndex::Hull hull = RuleIndex::query_of(set).hull;
  return index_->first_holding(
      corner_of(set), limit,
      [&](std::uint32_t k) {
        return index_->hull_holds(k, hull) && !dead(k) && matches_[k].contains(set);
      },
      kMaxHolderAsks, &hull);
}

std::int64_t Decisions::first_holding(const Point& v, std::uint32_t limit,
                                      std::optional<std::uint32_t> without) const {
  return index_->first_holding(v, limit, [&](std::uint32_t k) {
    return !dead(k) && (!without || policy_.rules[k].source_rule != *without) && matches_[k].holds(v);
  });
}

std::vector<Point> Decisions::probe_points_of(std::uint32_t r) const {
  const PacketSet& m = matches_[r];
  std::vector<Point> points;
  if (auto w = m.witness(policy_)) points.push_back(values_of(*w, policy_));  // a realistic packet first
  std::size_t boxes = std::min<std::size_t>(m.boxes().size(), 4);
  for (std::size_t b = 0; b < boxes; ++b)
    for (const auto& v : probe_points(m.boxes()[b])) points.push_back(v);
  return points;
}

std::vector<Packet> Decisions::decided_probes(std::uint32_t r) const {
  std::vector<Packet> out;
  for (const Point& v : probe_points_of(r))
    if (first_holding(v, rank_[r], std::nullopt) < 0) out.push_back(to_packet(v, policy_));
  return out;
}

std::vector<Decision> Decisions::decide(const PacketSet& set, std::optional<std::uint32_t> without,
                                        std::uint32_t from_rank, std::size_t max_looks, bool* complete,
                                        const Effect* all_as) const {
  std::vector<Decision> out;
  PacketSet rest = set;
  bool finished = true, differs = false;
  if (!rest.empty())
    finished = index_->in_rank_order(RuleIndex::query_of(set), from_rank, UINT32_MAX, true, [&](std::uint32_t k) {
      if (dead(k) || (without && policy_.rules[k].source_rule == *without) || !rest.intersects(matches_[k])) return true;
      PacketSet part = all_as ? PacketSet{} : rest & matches_[k];
      out.push_back({static_cast<std::int64_t>(k), ir::Direction::In, std::move(part)});
      if (all_as && effect_of_rule(k) != *all_as) return !(differs = true);
      rest.subtract(matches_[k]);
      return !rest.empty();
    }, max_looks);
  if (complete) *complete = finished;
  for (ir::Direction d : {ir::Direction::In, ir::Direction::Out}) {
    if (rest.empty() || differs) break;
    PacketSet part = rest & PacketSet::of(d, policy_);
    if (part.empty()) continue;
    if (all_as) part = {};
    out.push_back({-1, d, std::move(part)});
  }
  return out;
}

std::int64_t Decisions::decider(const Packet& p, std::optional<std::uint32_t> without) const {
  Point v = values_of(p, policy_);
  if (!in_universe(v, policy_)) return -1;  // no rule matches such a packet
  return first_holding(v, UINT32_MAX, without);
}

}  // namespace rulec::analysis
