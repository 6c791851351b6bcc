// Which rules decide anything, and whether that matters: RC300 shadowed,
// RC301 redundant, RC302 overridden, RC303 order-dependent overlaps.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <span>
#include <thread>

#include "analysis/lint_passes.hpp"
#include "analysis/side_by_side.hpp"

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
      covered_(p.source_rules.size()) {
  for (const ast::Statement& st : a.statements)
    if (st.kind == ast::Statement::Kind::Rule) statements.push_back(&st);
}

namespace {

/// What a source rule decides (Context::Coverage), worked out.
Context::Coverage work_out(const Decisions& decisions, std::uint32_t source_rule) {
  Context::Coverage c;
  c.decided.emplace();
  for (std::uint32_t r : decisions.rules_of(source_rule)) {
    auto d = decisions.decided_by(r, &c.takers, kBoxBudget, nullptr, kMaxLooks);
    if (!d) {
      c.decided.reset();
      break;
    }
    c.decided->unite(*d);
  }
  return c;
}

}  // namespace

const Context::Coverage& Context::coverage_of(std::uint32_t source_rule) {
  auto& slot = covered_[source_rule];
  if (!slot && ahead) {
    Ahead& a = ahead[source_rule];
    std::uint8_t state = Ahead::Free;
    if (!a.state.compare_exchange_strong(state, Ahead::Mine, std::memory_order_acq_rel)) {
      while (state == Ahead::Working) {  // the second thread is on it: its answer comes soon
        std::this_thread::sleep_for(std::chrono::microseconds(5));
        state = a.state.load(std::memory_order_acquire);
      }
      const auto& takers = a.coverage.takers;
      if (state == Ahead::Ready &&
          std::none_of(takers.begin(), takers.end(), [&](std::uint32_t k) { return decisions.dead(k); }))
        slot.emplace(std::move(a.coverage));
    }
  }
  if (!slot) slot.emplace(work_out(decisions, source_rule));
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

/// A later rule with another action that really decides packets of source
/// rule `s` (it never decides any itself), with such a packet.
std::optional<std::pair<std::int64_t, Packet>> overrider(const Context& cx, std::uint32_t s,
                                                         const std::vector<std::uint32_t>& takers) {
  const ir::Rule& rule = cx.policy.rules[cx.decisions.rules_of(s).front()];
  auto against = [&](const Packet& p) -> std::optional<std::pair<std::int64_t, Packet>> {
    std::int64_t d = cx.decisions.decider(p);  // a later rule with another action decides p
    if (d >= 0 && cx.policy.rules[d].source_rule > s && cx.policy.rules[d].action != rule.action) return std::pair{d, p};
    return std::nullopt;
  };
  for (std::uint32_t k : takers) {
    const ir::Rule& other = cx.policy.rules[k];
    if (other.source_rule < s || other.action == rule.action) continue;
    for (std::uint32_t r : cx.decisions.rules_of(s))
      for (const Packet& p : cx.decisions.probes(cx.decisions.match(r) & cx.decisions.match(k)))
        if (auto found = against(p)) return found;
  }
  // The rules that decide its typical packets, whichever took them first.
  for (std::uint32_t r : cx.decisions.rules_of(s))
    for (const Packet& p : cx.decisions.probes(cx.decisions.match(r)))
      if (auto found = against(p)) return found;
  return std::nullopt;
}

void report_never_decides(Context& cx, std::uint32_t s, std::vector<std::uint32_t> takers) {
  const ir::Rule& rule = cx.policy.rules[cx.decisions.rules_of(s).front()];
  std::sort(takers.begin(), takers.end());
  diag::Diagnostic diag{Severity::Warning, "", "", rule.origin};
  auto over = rule.done ? std::nullopt : overrider(cx, s, takers);
  if (over) {
    const ir::Rule& by = cx.policy.rules[over->first];
    diag.code = "RC302";
    diag.message = fmt::format(
        "this {} rule never takes effect: later rules decide every packet it matches (the last matching rule wins)",
        ir::to_string(rule.action));
    diag.notes.push_back({cx.policy.source_rules[by.source_rule], fmt::format("{} some of its packets", verb(by.action))});
    diag.witness = format_packet(over->second);
    diag.hint = "add '>> done' to this rule, or move it below the rules that override it";
  } else {
    bool earlier = false, later = false;
    std::vector<std::uint32_t> seen;
    std::size_t more = 0;
    for (std::uint32_t k : takers) {
      std::uint32_t t = cx.policy.rules[k].source_rule;
      (t < s ? earlier : later) = true;
      if (std::find(seen.begin(), seen.end(), t) != seen.end()) continue;
      seen.push_back(t);
      if (diag.notes.size() == kMaxNotes) {
        ++more;
        continue;
      }
      diag.notes.push_back({cx.policy.source_rules[t], t < s ? "an earlier 'done' rule that matches its packets"
                                                             : "a later rule that matches its packets"});
    }
    if (more) diag.notes.back().message += fmt::format(" (and {} more)", more);
    const char* by = !later ? "earlier 'done' rules match" : !earlier ? "later rules match"
                                                                      : "earlier 'done' rules and later rules match";
    diag.code = "RC300";
    diag.message = fmt::format("this rule never decides a packet: {} every packet it matches", by);
    if (!takers.empty()) {
      PacketSet both = cx.decisions.match(cx.decisions.rules_of(s).front()) & cx.decisions.match(takers.front());
      diag.witness = witness_of(cx, both);
    }
    diag.hint = "remove this rule, or move it where it takes effect";
  }
  cx.sink.add(std::move(diag));
  cx.reported[s] = true;
  cx.decisions.remove(s);
}

std::vector<std::uint32_t> source_rules_of(const Context& cx, const std::vector<std::uint32_t>& rules) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t r : rules) out.push_back(cx.policy.rules[r].source_rule);
  return out;
}

/// True when, without source rule `s`, packet `p` gets another verdict.
bool gets_other_verdict(const Decisions& decisions, std::uint32_t s, const Packet& p) {
  Effect mine = decisions.effect_of_rule(decisions.rules_of(s).front());
  return decisions.effect_of({decisions.decider(p, s), p.direction, {}}) != mine;
}

/// Most rules that decide anything are shown to by a probe, and most that
/// are not redundant by one packet that would get another verdict without
/// them; only the others need their decided packets worked out. True when a
/// probe settles it (no finding); `seen` gets the first packet it decides.
bool settled_by_probes(const Decisions& decisions, std::uint32_t s, std::optional<Packet>& seen) {
  for (std::uint32_t r : decisions.rules_of(s))
    for (const Packet& p : decisions.decided_probes(r)) {
      if (gets_other_verdict(decisions, s, p)) return true;
      if (!seen) seen = p;
    }
  return false;
}

/// The second thread of the coverage pass: works out the coverage of the
/// rules just ahead of order[at] (the rule the first thread checks), those
/// that no probe settles, and leaves it in cx.ahead, until `done`.
void look_ahead(const Context& cx, std::span<const std::uint32_t> order, const std::atomic<std::size_t>& at,
                const std::atomic<bool>& done) {
  // It works between kGap and kWindow rules ahead of the first thread.
  // Fallen behind that, it starts again kGap ahead and leaves the rules
  // between to the first thread, so that both work, rather than the first
  // waiting for an answer the second is still working out. Further ahead,
  // removals would make more answers stale. (100k generated rules: the
  // first thread waited 3.5 s in all when the second stayed just ahead of
  // it; 0.4 s now.)
  constexpr std::size_t kWindow = 256, kGap = 192;
  std::size_t i = 0;
  while (!done.load(std::memory_order_relaxed)) {
    std::size_t now = at.load(std::memory_order_acquire);
    if (i <= now + kGap) i = now + kGap + 1;
    if (i >= order.size()) break;
    if (i > now + kWindow) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    std::uint32_t s = order[i++];
    Context::Ahead& a = cx.ahead[s];
    std::uint8_t state = Context::Ahead::Free;
    // Removed rules need nothing (those held whole were removed before the pass).
    if (cx.decisions.rules_of(s).empty() || cx.decisions.removed(s) ||
        !a.state.compare_exchange_strong(state, Context::Ahead::Working, std::memory_order_acq_rel))
      continue;
    // A rule a probe settles needs no coverage (should the first thread
    // still ask, after removals, it works it out itself); nor does one that
    // throws.
    bool ready = false;
    std::optional<Packet> seen;
    try {
      if (!settled_by_probes(cx.decisions, s, seen)) a.coverage = work_out(cx.decisions, s), ready = true;
    } catch (...) {
      a.state.store(Context::Ahead::Mine, std::memory_order_release);
      throw;
    }
    a.state.store(ready ? Context::Ahead::Ready : Context::Ahead::Mine, std::memory_order_release);
  }
}

/// Calls check(s) for the source rules of `order`, in order. From
/// kTwoThreads IR rules on, for a long enough order, a second thread works
/// out ahead what the rules about to be checked decide (most of the pass's
/// work); each result is used only if none of the rules that took its
/// packets was removed meanwhile, so the findings are those of one thread.
template <typename Check>
void in_order(Context& cx, std::span<const std::uint32_t> order, Check check) {
  constexpr std::size_t kShortest = 256;  // fewer rules are not worth a thread
  std::atomic<std::size_t> at{0};
  std::atomic<bool> done{false};
  auto in_turn = [&] {
    for (std::size_t i = 0; i < order.size(); ++i) {
      at.store(i, std::memory_order_release);
      check(order[i]);
    }
    done = true;
  };
  if (cx.policy.rules.size() < kTwoThreads || order.size() < kShortest) {
    in_turn();
    return;
  }
  cx.ahead = std::make_unique<Context::Ahead[]>(cx.decisions.source_rule_count());
  try {
    side_by_side([&] { look_ahead(cx, order, at, done); }, in_turn, [&] { done = true; });
  } catch (...) {
    cx.ahead.reset();
    throw;
  }
  cx.ahead.reset();
}

/// Checks one source rule. When it is reported (and removed), returns the
/// rules whose redundancy may have changed: those that took its packets and,
/// for a redundant rule, those that now decide its packets.
std::vector<std::uint32_t> check_source_rule(Context& cx, std::uint32_t s) {
  const auto& rules = cx.decisions.rules_of(s);
  if (rules.empty()) return {};
  if (s < cx.held.size() && !cx.held[s].empty()) {  // inside other rules: it decides nothing
    std::vector<std::uint32_t> takers = cx.held[s];
    report_never_decides(cx, s, takers);
    return source_rules_of(cx, takers);
  }
  Effect mine = cx.decisions.effect_of_rule(rules.front());
  auto falls_elsewhere = [&](const Packet& p) { return gets_other_verdict(cx.decisions, s, p); };
  std::optional<Packet> seen;
  if (settled_by_probes(cx.decisions, s, seen)) return {};
  const Context::Coverage& c = cx.coverage_of(s);
  if (c.decided && c.decided->empty()) {
    std::vector<std::uint32_t> takers = c.takers;
    report_never_decides(cx, s, takers);
    return source_rules_of(cx, takers);
  }
  // Redundant only if every packet it decides gets the same verdict without
  // it: one packet with another verdict settles it cheaply.
  if (!c.decided) return {};  // too large to prove either way: no finding
  auto p = seen ? seen : c.decided->witness(cx.policy);
  if (!p || falls_elsewhere(*p)) return {};
  std::uint32_t from_rank = UINT32_MAX;  // no rule above this rule's own ranks takes any of its packets
  for (std::uint32_t r : rules) from_rank = std::min(from_rank, cx.decisions.rank(r));
  bool complete = true;
  std::vector<Decision> fallback = cx.decisions.decide(*c.decided, s, from_rank, kMaxLooks, &complete, &mine);
  if (!complete) return {};  // too costly to prove: no finding
  if (std::any_of(fallback.begin(), fallback.end(), [&](const Decision& d) { return cx.decisions.effect_of(d) != mine; }))
    return {};
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
  std::vector<std::uint32_t> heirs = source_rules_of(cx, c.takers);
  for (const Decision& d : fallback)
    if (d.rule >= 0) heirs.push_back(cx.policy.rules[static_cast<std::size_t>(d.rule)].source_rule);
  return heirs;
}

}  // namespace

void coverage(Context& cx) {
  // Each reported rule is removed at once, which can make a rule checked
  // before it redundant (the removed rule was where its packets would have
  // gone, or now hands packets to it): those are checked again until nothing
  // changes.
  cx.held = cx.decisions.remove_covered();
  std::vector<std::uint32_t> again;
  auto check = [&](std::uint32_t s, bool recheck) {
    if (cx.reported[s]) return;
    for (std::uint32_t h : check_source_rule(cx, s))
      if (recheck || h < s) again.push_back(h);
    cx.forget_decided(s);
  };
  std::vector<std::uint32_t> all(cx.decisions.source_rule_count());
  for (std::uint32_t s = 0; s < all.size(); ++s) all[s] = s;
  in_order(cx, all, [&](std::uint32_t s) { check(s, false); });
  while (!again.empty()) {
    std::sort(again.begin(), again.end());
    again.erase(std::unique(again.begin(), again.end()), again.end());
    std::vector<std::uint32_t> now;
    now.swap(again);
    in_order(cx, now, [&](std::uint32_t s) { check(s, true); });
  }
}

namespace {

/// An earlier rule `k` whose order against rule `j` decides some packet:
/// different actions, the same `done`, overlapping without either holding
/// the other, and one of them deciding a probed packet of the overlap (an
/// overlap whose probes all go to third rules is not reported: this is a
/// note, never a false one).
std::optional<Packet> order_matters(const Context& cx, std::uint32_t k, std::uint32_t j) {
  const PacketSet& mk = cx.decisions.match(k);
  const PacketSet& mj = cx.decisions.match(j);
  if (!mk.intersects(mj) || mk.contains(mj) || mj.contains(mk)) return std::nullopt;
  auto probes = cx.decisions.probes(mk & mj);
  if (probes.size() > 4) probes.resize(4);  // a realistic packet and the corners of the first box
  for (const Packet& p : probes) {
    std::int64_t d = cx.decisions.decider(p);
    if (d == k || d == j) return p;
  }
  return std::nullopt;
}

std::optional<diag::Diagnostic> correlate(const Context& cx, std::uint32_t s) {
  constexpr std::size_t kNearest = 32;  // earlier rules examined per rule
  diag::Diagnostic diag;
  std::vector<std::uint32_t> partners;
  const auto last = static_cast<std::uint32_t>(cx.policy.rules.size() - 1);
  for (std::uint32_t j : cx.decisions.rules_of(s)) {
    if (partners.size() == kMaxNotes) break;
    const ir::Rule& b = cx.policy.rules[j];
    // The nearest earlier rules with the same `done` are the next ranks:
    // upwards without `done`, downwards with it. Each is tested as it is
    // found, until kMaxNotes partners are.
    std::uint32_t rank = cx.decisions.rank(j);
    if (b.done ? rank == 0 : rank == last) continue;
    cx.decisions.nearest(
        cx.decisions.match(j), b.done ? 0 : rank + 1, b.done ? rank - 1 : last, !b.done, kNearest,
        [&](std::uint32_t k) {
          const ir::Rule& a = cx.policy.rules[k];
          return a.source_rule < s && a.action != b.action && a.done == b.done && !cx.reported[a.source_rule];
        },
        [&](std::uint32_t k) {
          std::uint32_t t = cx.policy.rules[k].source_rule;
          if (std::find(partners.begin(), partners.end(), t) != partners.end()) return true;
          auto w = order_matters(cx, k, j);
          if (!w) return true;
          if (partners.empty()) diag.witness = format_packet(*w);
          partners.push_back(t);
          diag.notes.push_back({cx.policy.source_rules[t],
                                fmt::format("this earlier rule {} some of the same packets", verb(cx.policy.rules[k].action))});
          return partners.size() < kMaxNotes;
        });
  }
  if (partners.empty()) return std::nullopt;
  std::sort(diag.notes.begin(), diag.notes.end(), [](const diag::Label& x, const diag::Label& y) {
    return std::tie(x.loc.file, x.loc.begin) < std::tie(y.loc.file, y.loc.begin);
  });
  const ir::Rule& rule = cx.policy.rules[cx.decisions.rules_of(s).front()];
  diag.severity = Severity::Note;
  diag.code = "RC303";
  diag.message = fmt::format("this {} rule overlaps {} with a different action, so their order decides some packets",
                             ir::to_string(rule.action), partners.size() == 1 ? "an earlier rule" : "earlier rules");
  diag.loc = rule.origin;
  diag.hint = rule.done ? "check that the earlier rule should win for the shared packets ('done': first match wins)"
                        : "check that this rule should win for the shared packets (the last matching rule wins)";
  return diag;
}

}  // namespace

std::optional<diag::Diagnostic> correlation(const Context& cx, std::uint32_t s) {
  if (cx.reported[s] || cx.decisions.rules_of(s).empty()) return std::nullopt;
  return correlate(cx, s);
}

void correlated(const Context& cx, diag::Sink& out) {
  for (std::uint32_t s = 0; s < cx.decisions.source_rule_count(); ++s)
    if (auto d = correlation(cx, s)) out.add(std::move(*d));
}

}  // namespace rulec::analysis::lint_passes
