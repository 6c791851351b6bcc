// The reference evaluator.
#include "analysis/evaluator.hpp"

namespace rulec::analysis {

StateTable::Key StateTable::key_of(const Packet& p) {
  return {static_cast<int>(p.direction), static_cast<int>(p.family), p.protocol, p.src, p.dst, p.sport, p.dport};
}

bool StateTable::matches(const Packet& p) const {
  if (entries_.count(key_of(p))) return true;
  return entries_.count(key_of(reply_to(p))) > 0;
}

void StateTable::add(const Packet& p) { entries_.insert(key_of(p)); }

const char* to_string(Verdict::By by) {
  switch (by) {
    case Verdict::By::Rule: return "rule";
    case Verdict::By::Default: return "default";
    case Verdict::By::NoDefault: return "no-default";
    case Verdict::By::State: return "state";
  }
  return "?";
}

bool matches(const ir::Match& m, const Packet& p, std::uint32_t iface) {
  return ir::field_contains(m.directions, static_cast<std::uint8_t>(p.direction)) &&
         ir::field_contains(m.interfaces, iface) &&
         ir::field_contains(m.families, static_cast<std::uint8_t>(p.family)) &&
         ir::field_contains(m.protocols, p.protocol) && ir::field_contains(m.src, p.src) &&
         ir::field_contains(m.dst, p.dst) && ir::field_contains(m.sport, p.sport) &&
         ir::field_contains(m.dport, p.dport) && ir::field_contains(m.icmp_types, p.icmp_type);
}

Verdict evaluate(const ir::Policy& policy, const Packet& p, StateTable* state) {
  Verdict v;
  if (state && state->matches(p)) {
    v.action = ir::Action::Pass;
    v.by = Verdict::By::State;
    return v;
  }
  std::uint32_t iface = p.interface.empty() ? static_cast<std::uint32_t>(policy.interfaces.size())
                                            : policy.interface_index(p.interface);
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const ir::Rule& r = policy.rules[i];
    if (!matches(r.match, p, iface)) continue;
    v.rule = static_cast<std::int64_t>(i);
    if (r.done) break;
  }
  if (v.rule >= 0) {
    const ir::Rule& r = policy.rules[static_cast<std::size_t>(v.rule)];
    v.action = r.action;
    v.by = Verdict::By::Rule;
    if (state && r.action == ir::Action::Pass && r.state) {
      state->add(p);
      v.created_state = true;
    }
    return v;
  }
  const ir::Default& d = policy.default_for(p.direction);
  v.action = d.action;
  v.by = d.explicit_ ? Verdict::By::Default : Verdict::By::NoDefault;
  return v;
}

std::vector<std::uint32_t> matching_rules(const ir::Policy& policy, const Packet& p) {
  std::uint32_t iface = p.interface.empty() ? static_cast<std::uint32_t>(policy.interfaces.size())
                                            : policy.interface_index(p.interface);
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < policy.rules.size(); ++i)
    if (matches(policy.rules[i].match, p, iface)) out.push_back(static_cast<std::uint32_t>(i));
  return out;
}

}  // namespace rulec::analysis
