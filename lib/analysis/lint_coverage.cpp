// Which rules decide anything, and whether that matters: RC300 shadowed,
// RC301 redundant, RC302 overridden, RC303 order-dependent overlaps.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "analysis/lint_passes.hpp"

namespace rulec::analysis::lint_passes {

using diag::Severity;

const char* verb(ir::Action a) {
  switch (a) {
    case ir::Action::Pass: return "passes";
    case ir::Action::Block: return "blocks";
    case ir::Action::Reject: return "rejects";
  }
  return "?";
}

Context::Context(const ir::Policy& p, const ast::Policy& a, diag::Sink& s)
    : policy(p), ast(a), sink(s), decisions(p), reported(p.source_rules.size(), false),
      decided_(p.source_rules.size()) {
  for (const ast::Statement& st : a.statements)
    if (st.kind == ast::Statement::Kind::Rule) statements.push_back(&st);
}

const PacketSet& Context::decided(std::uint32_t source_rule) {
  auto& slot = decided_[source_rule];
  if (!slot) {
    slot.emplace();
    for (std::uint32_t r : decisions.rules_of(source_rule)) slot->unite(decisions.decided_by(r));
  }
  return *slot;
}

std::optional<diag::Location> Context::location_of(const Decision& d) const {
  if (d.rule >= 0) return policy.rules[static_cast<std::size_t>(d.rule)].origin;
  const ir::Default& def = policy.default_for(d.direction);
  if (def.explicit_) return def.origin;
  return std::nullopt;
}

std::string Context::describe(const Decision& d) const {
  if (d.rule >= 0) return "a rule";
  const ir::Default& def = policy.default_for(d.direction);
  if (def.explicit_) return fmt::format("the default for {} packets", d.direction == ir::Direction::In ? "inbound" : "outbound");
  return fmt::format("the missing default for {} packets (pass)", d.direction == ir::Direction::In ? "inbound" : "outbound");
}

namespace {

/// The packets of every IR rule of a source rule.
PacketSet source_match(const Context& cx, std::uint32_t s) {
  PacketSet m;
  for (std::uint32_t r : cx.decisions.rules_of(s)) m.unite(cx.decisions.match(r));
  return m;
}

std::uint32_t source_of(const Context& cx, const Decision& d) {
  return cx.policy.rules[static_cast<std::size_t>(d.rule)].source_rule;
}

}  // namespace

void add_notes(const Context& cx, diag::Diagnostic& diag, const std::vector<const Decision*>& parts,
               const std::string& message) {
  std::vector<const Decision*> sorted = parts;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Decision* a, const Decision* b) {
    return static_cast<std::uint64_t>(a->rule) < static_cast<std::uint64_t>(b->rule);  // rules by line, defaults last
  });
  std::vector<diag::Location> seen;
  std::size_t more = 0;
  for (const Decision* d : sorted) {
    auto loc = cx.location_of(*d);
    if (!loc || std::find(seen.begin(), seen.end(), *loc) != seen.end()) continue;
    seen.push_back(*loc);
    if (diag.notes.size() < kMaxNotes) diag.notes.push_back({*loc, message});
    else ++more;
  }
  if (more) diag.notes.back().message += fmt::format(" (and {} more)", more);
}

namespace {

std::string witness_of(const Context& cx, const PacketSet& s) {
  auto p = s.witness(cx.policy);
  return p ? format_packet(*p) : "";
}

void report_never_decides(Context& cx, std::uint32_t s) {
  const ir::Rule& rule = cx.policy.rules[cx.decisions.rules_of(s).front()];
  std::vector<Decision> parts = cx.decisions.decide(source_match(cx, s), s);
  std::sort(parts.begin(), parts.end(), [](const Decision& a, const Decision& b) { return a.rule < b.rule; });
  std::vector<const Decision*> differing, earlier, later;
  for (const Decision& d : parts) {
    if (d.rule < 0) continue;  // cannot happen: the rule matches all these packets
    bool is_later = source_of(cx, d) > s;
    (is_later ? later : earlier).push_back(&d);
    if (is_later && !rule.done && cx.policy.rules[static_cast<std::size_t>(d.rule)].action != rule.action)
      differing.push_back(&d);
  }
  diag::Diagnostic diag{Severity::Warning, "", "", rule.origin};
  if (!differing.empty()) {
    diag.code = "RC302";
    diag.message = fmt::format(
        "this {} rule never takes effect: later rules decide every packet it matches (the last matching rule wins)",
        ir::to_string(rule.action));
    for (const Decision* d : differing)
      add_notes(cx, diag, {d}, fmt::format("{} some of its packets", verb(cx.policy.rules[d->rule].action)));
    diag.witness = witness_of(cx, differing.front()->packets);
    diag.hint = "add '>> done' to this rule, or move it below the rules that override it";
  } else {
    diag.code = "RC300";
    const char* by = earlier.empty() ? "later rules match" : later.empty() ? "earlier 'done' rules decide"
                                                                           : "earlier 'done' rules and later rules decide";
    diag.message = fmt::format("this rule never decides a packet: {} every packet it matches", by);
    std::vector<const Decision*> all = earlier;
    all.insert(all.end(), later.begin(), later.end());
    add_notes(cx, diag, all, "decides its packets instead");
    if (!all.empty()) diag.witness = witness_of(cx, all.front()->packets);
    diag.hint = "remove this rule, or move it where it takes effect";
  }
  cx.sink.add(std::move(diag));
  cx.reported[s] = true;
  cx.decisions.remove(s);
}

/// True when some packet the rule decides would get another verdict without it.
bool matters(Context& cx, std::uint32_t s, const std::optional<Packet>& probe, std::vector<Decision>& fallback) {
  Effect mine = cx.decisions.effect_of_rule(cx.decisions.rules_of(s).front());
  if (probe) {
    std::int64_t k = cx.decisions.decider(*probe, s);
    Decision d{k, probe->direction, {}};
    if (cx.decisions.effect_of(d) != mine) return true;
  }
  fallback = cx.decisions.decide(cx.decided(s), s);
  return std::any_of(fallback.begin(), fallback.end(),
                     [&](const Decision& d) { return cx.decisions.effect_of(d) != mine; });
}

void check_source_rule(Context& cx, std::uint32_t s) {
  const auto& rules = cx.decisions.rules_of(s);
  if (rules.empty()) return;
  std::optional<Packet> probe;
  for (std::uint32_t r : rules)
    if ((probe = cx.decisions.probe(r))) break;
  if (!probe && cx.decided(s).empty()) {
    report_never_decides(cx, s);
    return;
  }
  std::vector<Decision> fallback;
  if (matters(cx, s, probe, fallback)) return;
  const ir::Rule& rule = cx.policy.rules[rules.front()];
  diag::Diagnostic diag{Severity::Warning, "RC301",
                        "this rule is redundant: without it, every packet it decides gets the same verdict",
                        rule.origin};
  std::vector<const Decision*> parts;
  for (const Decision& d : fallback) parts.push_back(&d);
  add_notes(cx, diag, parts, "gives the same verdict");
  std::vector<std::string> unwritten;  // directions without a default statement
  for (const Decision& d : fallback)
    if (!cx.location_of(d)) {
      std::string dir = d.direction == ir::Direction::In ? "inbound" : "outbound";
      if (std::find(unwritten.begin(), unwritten.end(), dir) == unwritten.end()) unwritten.push_back(dir);
    }
  if (!unwritten.empty())
    diag.message += fmt::format(" (no default for {} packets: they pass)", fmt::join(unwritten, " and "));
  diag.hint = "remove this rule";
  cx.sink.add(std::move(diag));
  cx.reported[s] = true;
  cx.decisions.remove(s);
}

/// Unreported source rules that share packets with source rule `t` (and,
/// when `below` is set, come before it): removing `t` may make them redundant.
void touched_by(const Context& cx, std::uint32_t t, bool below, std::vector<std::uint32_t>& out) {
  for (std::uint32_t r : cx.decisions.rules_of(t))
    for (std::uint32_t k : cx.decisions.candidates(cx.decisions.match(r))) {
      std::uint32_t s = cx.policy.rules[k].source_rule;
      if (s != t && !cx.reported[s] && (!below || s < t)) out.push_back(s);
    }
}

}  // namespace

void coverage(Context& cx) {
  // Each reported rule is removed at once, so a rule checked earlier may
  // become redundant later; those are checked again until nothing changes.
  std::vector<std::uint32_t> again;
  for (std::uint32_t s = 0; s < cx.decisions.source_rule_count(); ++s) {
    if (cx.reported[s]) continue;
    check_source_rule(cx, s);
    if (cx.reported[s]) touched_by(cx, s, true, again);
  }
  while (!again.empty()) {
    std::sort(again.begin(), again.end());
    again.erase(std::unique(again.begin(), again.end()), again.end());
    std::vector<std::uint32_t> next;
    for (std::uint32_t s : again) {
      if (cx.reported[s]) continue;
      cx.forget_decided(s);
      check_source_rule(cx, s);
      if (cx.reported[s]) touched_by(cx, s, false, next);
    }
    again = std::move(next);
  }
  cx.forget_decided();  // removals changed who decides what
}

namespace {

/// An earlier rule `k` whose order against rule `j` decides some packet:
/// different actions, the same `done`, overlapping without either holding
/// the other, and one of them deciding part of the overlap.
std::optional<Packet> order_matters(const Context& cx, std::uint32_t k, std::uint32_t j) {
  const ir::Rule& a = cx.policy.rules[k];
  const ir::Rule& b = cx.policy.rules[j];
  if (a.action == b.action || a.done != b.done) return std::nullopt;
  const PacketSet& mk = cx.decisions.match(k);
  const PacketSet& mj = cx.decisions.match(j);
  if (!mk.intersects(mj) || mk.contains(mj) || mj.contains(mk)) return std::nullopt;
  for (const Decision& d : cx.decisions.decide(mk & mj))
    if (d.rule == k || d.rule == j) return d.packets.witness(cx.policy);
  return std::nullopt;
}

void correlate(Context& cx, std::uint32_t s) {
  diag::Diagnostic diag;
  std::vector<std::uint32_t> partners;
  for (std::uint32_t j : cx.decisions.rules_of(s)) {
    for (std::uint32_t k : cx.decisions.candidates(cx.decisions.match(j))) {
      std::uint32_t t = cx.policy.rules[k].source_rule;
      if (t >= s || cx.reported[t] || partners.size() >= kMaxNotes) continue;
      if (std::find(partners.begin(), partners.end(), t) != partners.end()) continue;
      auto w = order_matters(cx, k, j);
      if (!w) continue;
      if (partners.empty()) diag.witness = format_packet(*w);
      partners.push_back(t);
      diag.notes.push_back({cx.policy.source_rules[t],
                            fmt::format("this earlier rule {} some of the same packets", verb(cx.policy.rules[k].action))});
    }
  }
  if (partners.empty()) return;
  const ir::Rule& rule = cx.policy.rules[cx.decisions.rules_of(s).front()];
  diag.severity = Severity::Note;
  diag.code = "RC303";
  diag.message = fmt::format("this {} rule overlaps {} with a different action, so their order decides some packets",
                             ir::to_string(rule.action), partners.size() == 1 ? "an earlier rule" : "earlier rules");
  diag.loc = rule.origin;
  diag.hint = rule.done ? "check that the earlier rule should win for the shared packets ('done': first match wins)"
                        : "check that this rule should win for the shared packets (the last matching rule wins)";
  cx.sink.add(std::move(diag));
}

}  // namespace

void correlated(Context& cx) {
  for (std::uint32_t s = 0; s < cx.decisions.source_rule_count(); ++s)
    if (!cx.reported[s] && !cx.decisions.rules_of(s).empty()) correlate(cx, s);
}

}  // namespace rulec::analysis::lint_passes
