// Rules that can match nothing (RC304, RC307) and state mistakes (RC305, RC306).
#include <fmt/format.h>

#include <algorithm>

#include "analysis/lint_passes.hpp"

namespace rulec::analysis::lint_passes {

using diag::Severity;

namespace {

bool loopback_name(const std::string& name) {
  if (name.rfind("lo", 0) != 0) return false;
  return std::all_of(name.begin() + 2, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Packets that never occur: a multicast source address.
PacketSet multicast_sources(const ir::Policy& policy) {
  ir::Match v4, v6;
  v4.families = {{0, 0}};
  v4.src = {{0xe0000000u, 0xefffffffu}};  // 224.0.0.0/4
  v6.families = {{1, 1}};
  v6.src = {{ir::U128(0xff) << 120, ~ir::U128(0)}};  // ff00::/8
  return PacketSet::of(v4, policy) | PacketSet::of(v6, policy);
}

/// Packets that never occur: loopback addresses on a named interface that is not a loopback one.
PacketSet loopback_elsewhere(const ir::Policy& policy) {
  ir::FieldSet<std::uint32_t> ifaces;
  for (std::uint32_t i = 0; i < policy.interfaces.size(); ++i)
    if (!loopback_name(policy.interfaces[i])) ifaces.push_back({i, i});
  ir::normalise(ifaces);
  PacketSet out;
  if (ifaces.empty()) return out;
  const ir::FieldSet<ir::U128> lo4 = {{0x7f000000u, 0x7fffffffu}}, lo6 = {{1, 1}};
  for (int fam = 0; fam < 2; ++fam)
    for (int end = 0; end < 2; ++end) {
      ir::Match m;
      m.interfaces = ifaces;
      m.families = {{static_cast<std::uint8_t>(fam), static_cast<std::uint8_t>(fam)}};
      (end ? m.dst : m.src) = fam ? lo6 : lo4;
      out.unite(PacketSet::of(m, policy));
    }
  return out;
}

bool all_within(const Context& cx, std::uint32_t s, const PacketSet& set) {
  const auto& rules = cx.decisions.rules_of(s);
  return std::all_of(rules.begin(), rules.end(), [&](std::uint32_t r) { return set.contains(cx.decisions.match(r)); });
}

}  // namespace

void never_match(Context& cx) {
  for (std::uint32_t s : cx.policy.empty_source_rules) {
    diag::Diagnostic d{Severity::Warning, "RC304", "this rule can match no packet: its clauses contradict each other",
                       cx.policy.source_rules[s]};
    d.hint = "fix or remove the clauses that exclude each other";
    cx.sink.add(std::move(d));
    cx.reported[s] = true;
  }
  PacketSet multicast = multicast_sources(cx.policy), loopback = loopback_elsewhere(cx.policy);
  PacketSet never = multicast | loopback;
  for (std::uint32_t s = 0; s < cx.decisions.source_rule_count(); ++s) {
    if (cx.reported[s] || cx.decisions.rules_of(s).empty() || !all_within(cx, s, never)) continue;
    std::string why = "no packet has a multicast source address";
    if (!all_within(cx, s, multicast)) {
      const ast::Statement* st = s < cx.statements.size() ? cx.statements[s] : nullptr;
      std::string iface = st && st->iface ? "'" + cx.ast.str(st->iface) + "'" : "an interface other than loopback";
      why = all_within(cx, s, loopback)
                ? fmt::format("loopback addresses (127.0.0.0/8, ::1) never appear on {}", iface)
                : "its packets would have a multicast source, or loopback addresses off the loopback interface";
    }
    diag::Diagnostic d{Severity::Warning, "RC307", "this rule can never match: " + why, cx.policy.source_rules[s]};
    d.hint = "check the addresses and the interface of this rule";
    cx.sink.add(std::move(d));
    cx.reported[s] = true;
  }
}

namespace {

void state_on_block(const Context& cx, std::uint32_t s, diag::Sink& out) {
  const ast::Statement& st = *cx.statements[s];
  if (st.action == ast::Action::Pass || !(st.options & ast::OptState)) return;
  std::uint32_t at = st.option_at[0];
  diag::Diagnostic d{Severity::Warning, "RC305",
                     fmt::format("'state' does nothing on a {} rule: only passed packets create state",
                                 ast::to_string(st.action)),
                     {st.file, at, at + 5}};
  d.hint = "drop 'state' from this rule's options";
  out.add(std::move(d));
}

void replies_blocked(Context& cx, std::uint32_t s, diag::Sink& out) {
  const auto& rules = cx.decisions.rules_of(s);
  const ir::Rule& rule = cx.policy.rules[rules.front()];
  if (rule.action != ir::Action::Pass || rule.state) return;
  auto blocks = [](const Effect& e) { return e.action != ir::Action::Pass; };
  std::optional<Decision> found;
  // The replies to the probed packets the rule passes first, the typical
  // packet of its match leading: the clearest witnesses, and often enough
  // without working out every packet the rule passes.
  auto try_reply = [&](const Packet& w) {
    Packet r = reply_to(w);
    Decision d{cx.decisions.decider(r), r.direction, {}};
    if (!blocks(cx.decisions.effect_of(d))) return;
    d.packets = PacketSet::of(r, cx.policy);
    if (!d.packets.empty()) found = std::move(d);
  };
  for (std::uint32_t r : rules) {
    for (const Packet& w : cx.decisions.decided_probes(r)) {
      try_reply(w);
      if (found) break;
    }
    if (found) break;
  }
  if (!found) {
    const auto& passed = cx.coverage_of(s).decided;
    if (!passed || passed->empty()) return;
    if (auto w = passed->witness(cx.policy)) try_reply(*w);
    if (!found) found = cx.decisions.find(passed->replies(), blocks);
  }
  if (!found) return;
  std::vector<const Decision*> blocking{&*found};
  auto reply = found->packets.witness(cx.policy);
  const char* dir = reply->direction == ir::Direction::In ? "inbound" : "outbound";
  const Decision& first = *blocking.front();
  bool rejects = cx.decisions.effect_of(first).action == ir::Action::Reject;
  diag::Diagnostic d{Severity::Warning, "RC306",
                     fmt::format("this rule keeps no state, and the {} replies to packets it passes are {} by {}", dir,
                                 rejects ? "rejected" : "blocked", first.rule >= 0 ? "a rule" : cx.describe(first)),
                     rule.origin};
  add_notes(cx, d, blocking, "blocks the replies");
  d.witness = format_packet(*reply);
  d.hint = "add '>> state' to this rule, or pass the replies with a rule of their own";
  out.add(std::move(d));
}

}  // namespace

void state_checks_of(Context& cx, std::uint32_t s, diag::Sink& out) {
  state_on_block(cx, s, out);
  if (!cx.reported[s] && s < cx.decisions.source_rule_count() && !cx.decisions.rules_of(s).empty()) {
    replies_blocked(cx, s, out);
    cx.forget_decided(s);
  }
}

void state_checks(Context& cx, diag::Sink& out) {
  for (std::uint32_t s = 0; s < cx.statements.size(); ++s) state_checks_of(cx, s, out);
}

}  // namespace rulec::analysis::lint_passes
