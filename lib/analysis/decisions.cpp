// Decisions over packet sets: last match, `done`, defaults.
#include "analysis/decisions.hpp"

#include <algorithm>

namespace rulec::analysis {

namespace {

std::vector<PacketSet> rule_sets(const ir::Policy& policy) {
  std::vector<PacketSet> out;
  out.reserve(policy.rules.size());
  for (const ir::Rule& r : policy.rules) out.push_back(PacketSet::of(r.match, policy));
  return out;
}

/// A few packets spread over a box: its lowest corner, its highest corner
/// and a point in the middle of its middle ranges.
std::vector<std::array<ir::U128, kFieldCount>> probe_points(const Box& b) {
  std::vector<std::array<ir::U128, kFieldCount>> out(3);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto s = b[static_cast<Field>(f)];
    const Interval& mid = s[s.size() / 2];
    out[0][f] = s.front().lo;
    out[1][f] = s.back().hi;
    out[2][f] = mid.lo + (mid.hi - mid.lo) / 2;
  }
  return out;
}

bool box_holds(const Box& b, const std::array<ir::U128, kFieldCount>& v) {
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto s = b[static_cast<Field>(f)];
    if (std::none_of(s.begin(), s.end(), [&](const Interval& r) { return r.contains(v[f]); })) return false;
  }
  return true;
}

bool set_holds(const PacketSet& s, const std::array<ir::U128, kFieldCount>& v) {
  return std::any_of(s.boxes().begin(), s.boxes().end(), [&](const Box& b) { return box_holds(b, v); });
}

Packet to_packet(const std::array<ir::U128, kFieldCount>& v, const ir::Policy& policy) {
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

std::array<ir::U128, kFieldCount> values_of(const Packet& p, const ir::Policy& policy) {
  return {static_cast<ir::U128>(static_cast<int>(p.direction)), interface_index(policy, p),
          static_cast<ir::U128>(static_cast<int>(p.family)), p.protocol, p.src, p.dst, p.sport, p.dport, p.icmp_type};
}

}  // namespace

Decisions::Decisions(const ir::Policy& policy)
    : policy_(policy), matches_(rule_sets(policy)), index_(matches_), by_source_(policy.source_rules.size()) {
  for (std::uint32_t r = 0; r < policy.rules.size(); ++r) {
    std::uint32_t s = policy.rules[r].source_rule;
    if (s >= by_source_.size()) by_source_.resize(s + 1);
    by_source_[s].push_back(r);
  }
  removed_.assign(by_source_.size(), false);
}

std::vector<std::uint32_t> Decisions::candidates(const PacketSet& set) const {
  std::vector<std::uint32_t> out = index_.candidates(set);
  std::erase_if(out, [&](std::uint32_t k) { return removed_[policy_.rules[k].source_rule]; });
  return out;
}

void Decisions::remove(std::uint32_t source_rule) { removed_[source_rule] = true; }

Effect Decisions::effect_of_rule(std::uint32_t r) const {
  const ir::Rule& rule = policy_.rules[r];
  return {rule.action, rule.action == ir::Action::Pass && rule.state};
}

Effect Decisions::effect_of(const Decision& d) const {
  if (d.rule >= 0) return effect_of_rule(static_cast<std::uint32_t>(d.rule));
  return {policy_.default_for(d.direction).action, false};
}

std::optional<PacketSet> Decisions::decided_by(std::uint32_t r, std::vector<std::uint32_t>* takers,
                                               std::size_t budget, const PacketSet* within) const {
  const PacketSet& query = within ? *within : matches_[r];
  PacketSet rest = query;
  bool done = policy_.rules[r].done, over = false;
  // The index offers broad rules first: they empty the set soonest and split it least.
  auto rival = [&](std::uint32_t k) {  // an earlier `done` rule, or a later one when r has no `done`
    const ir::Rule& rule = policy_.rules[k];
    return ((k < r && rule.done) || (k > r && !done)) && !removed_[rule.source_rule];
  };
  index_.for_each_candidate(
      query,
      [&](std::uint32_t k) {
        if (!rest.intersects(matches_[k])) return true;
        rest.subtract(matches_[k]);
        if (takers) takers->push_back(k);
        over = rest.boxes().size() > budget;
        return !over && !rest.empty();
      },
      rival);
  if (over) return std::nullopt;
  return rest;
}

std::optional<PacketSet> Decisions::unmatched(const PacketSet& set, std::size_t budget) const {
  PacketSet rest = set;
  bool over = false;
  index_.for_each_candidate(set, [&](std::uint32_t k) {
    if (removed_[policy_.rules[k].source_rule] || !rest.intersects(matches_[k])) return true;
    rest.subtract(matches_[k]);
    over = rest.boxes().size() > budget;
    return !over && !rest.empty();
  });
  if (over) return std::nullopt;
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

std::optional<Packet> Decisions::probe(std::uint32_t r) const {
  const PacketSet& m = matches_[r];
  bool done = policy_.rules[r].done;
  std::vector<std::array<ir::U128, kFieldCount>> points;
  if (auto w = m.witness(policy_)) points.push_back(values_of(*w, policy_));  // a realistic packet first
  std::size_t boxes = std::min<std::size_t>(m.boxes().size(), 4);
  for (std::size_t b = 0; b < boxes; ++b)
    for (const auto& v : probe_points(m.boxes()[b])) points.push_back(v);
  std::vector<bool> taken(points.size(), false);
  std::size_t left = points.size();
  index_.for_each_candidate(m, [&](std::uint32_t k) {
    const ir::Rule& rule = policy_.rules[k];
    if (k == r || removed_[rule.source_rule]) return true;
    if (!(k < r && rule.done) && !(k > r && !done)) return true;
    for (std::size_t i = 0; i < points.size(); ++i)
      if (!taken[i] && set_holds(matches_[k], points[i])) taken[i] = true, --left;
    return left > 0;
  });
  for (std::size_t i = 0; i < points.size(); ++i)
    if (!taken[i]) return to_packet(points[i], policy_);
  return std::nullopt;
}

std::vector<Decision> Decisions::decide(const PacketSet& set, std::optional<std::uint32_t> without) const {
  std::vector<Decision> out;
  PacketSet rest = set;
  std::vector<std::uint32_t> cands = candidates(set);
  if (without)
    std::erase_if(cands, [&](std::uint32_t k) { return policy_.rules[k].source_rule == *without; });
  auto take = [&](std::uint32_t k) {
    if (rest.empty() || !rest.intersects(matches_[k])) return;
    PacketSet part = rest & matches_[k];
    rest.subtract(matches_[k]);
    out.push_back({static_cast<std::int64_t>(k), ir::Direction::In, std::move(part)});
  };
  for (std::uint32_t k : cands)
    if (policy_.rules[k].done) take(k);
  for (auto it = cands.rbegin(); it != cands.rend(); ++it)
    if (!policy_.rules[*it].done) take(*it);
  for (ir::Direction d : {ir::Direction::In, ir::Direction::Out}) {
    if (rest.empty()) break;
    PacketSet part = rest & PacketSet::of(d, policy_);
    if (!part.empty()) out.push_back({-1, d, std::move(part)});
  }
  return out;
}

std::int64_t Decisions::decider_among(const Packet& p, const std::vector<std::uint32_t>& rules) const {
  std::uint32_t iface = interface_index(policy_, p);
  std::int64_t last = -1;
  for (std::uint32_t k : rules) {
    if (removed_[policy_.rules[k].source_rule]) continue;
    const auto& boxes = matches_[k].boxes();
    if (std::none_of(boxes.begin(), boxes.end(), [&](const Box& b) { return b.contains(p, iface); })) continue;
    if (policy_.rules[k].done) return k;
    last = k;
  }
  return last;
}

std::int64_t Decisions::decider(const Packet& p, std::optional<std::uint32_t> without) const {
  PacketSet one = PacketSet::of(p, policy_);
  std::int64_t last = -1;
  for (std::uint32_t k : candidates(one)) {
    if (without && policy_.rules[k].source_rule == *without) continue;
    if (!matches_[k].intersects(one)) continue;
    if (policy_.rules[k].done) return k;
    last = k;
  }
  return last;
}

}  // namespace rulec::analysis
