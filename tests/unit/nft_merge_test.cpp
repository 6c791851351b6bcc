// Semantic tests of merging nft rules into sets (lib/backends/nft_merge.hpp):
// the merged chain decides every sampled packet as the unmerged one does.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "analysis/evaluator.hpp"
#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "backends/nft_merge.hpp"
#include "backends/nft_summary.hpp"
#include "backends/nft_prune.hpp"
#include "frontend.hpp"
#include "policy_gen.hpp"

namespace {

using namespace rulec;
namespace lf = backends::linux_fw;
namespace nm = backends::nft_merge;

template <typename T>
bool in(const ir::FieldSet<T>& s, T v) {
  return ir::field_contains(s, v);
}

/// True when the kernel rule of entry `e` matches `p` (its rule, and its alternative).
bool entry_matches(const ir::Policy& policy, const nm::Entry& e, const analysis::Packet& p) {
  std::uint32_t iface = p.interface.empty() ? static_cast<std::uint32_t>(policy.interfaces.size())
                                            : policy.interface_index(p.interface);
  if (!analysis::matches(e.rule->match, p, iface)) return false;
  const nm::AltFields alt = e.alt();
  bool proto = alt.protocols.empty() || in(alt.protocols, p.protocol);
  if (alt.negate_protocols) proto = !in(alt.protocols, p.protocol);
  return proto && (alt.sport.empty() || in(alt.sport, p.sport)) && (alt.dport.empty() || in(alt.dport, p.dport)) &&
         (alt.icmp_types.empty() || in(alt.icmp_types, p.icmp_type));
}

/// The entries of one judgement, with effect = verdict and class = effect
/// and which fields are set: coarser than the backend's, so more merges.
/// With `logged_alone`, a logging rule has an effect of its own and joins
/// nothing, as in the backend (so a large policy merges little).
std::vector<nm::Entry> entries_of(const ir::Policy& policy, ir::Direction dir, bool logged_alone = false) {
  std::vector<nm::Entry> out;
  lf::AlternativeViews views;
  for (std::uint32_t i : lf::first_match_order(policy, dir)) {
    const ir::Rule& r = policy.rules[i];
    for (const auto& view : views.of(r.match)) {
      nm::Entry e = nm::Entry::of(r, view);
      const nm::AltFields alt = e.alt();
      e.effect = static_cast<std::uint32_t>(r.action) * 2 + r.state;
      e.klass = e.effect * 64 + (r.match.src.empty() ? 0 : 1) + (r.match.dst.empty() ? 0 : 2) +
                (alt.dport.empty() ? 0 : 4) + (alt.icmp_types.empty() ? 0 : 8) + (alt.negate_protocols ? 16 : 0);
      if (logged_alone && r.log) {
        e.effect = 1000 + r.source_rule;
        e.klass = nm::kAlone;
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

analysis::Packet random_packet(std::mt19937& rng) {
  static const char* ifaces[] = {"", "lan", "wan", "dmz", "eth0.100"};
  static const std::uint8_t protos[] = {6, 17, 132, 1, 58, 47, 50, 51, 6, 17};
  static const std::uint16_t ports[] = {22, 25, 53, 80, 123, 443, 500, 1194, 1723, 4500, 8080, 8443, 51820};
  static const ir::U128 nets[] = {0xC0000200u, 0xC6336400u, 0xCB007100u};  // the generator's networks
  analysis::Packet p;
  p.direction = rng() % 2 ? ir::Direction::In : ir::Direction::Out;
  p.interface = ifaces[rng() % 5];
  p.protocol = protos[rng() % 10];
  p.family = rng() % 4 == 0 ? ir::Family::Inet6 : ir::Family::Inet;
  if (p.protocol == 1) p.family = ir::Family::Inet;
  if (p.protocol == 58) p.family = ir::Family::Inet6;
  auto addr = [&]() -> ir::U128 {
    if (p.family == ir::Family::Inet) return nets[rng() % 3] + rng() % 256;
    ir::U128 a = (ir::U128{0x20010db8u} << 96) | (ir::U128{rng() % 10} << 80);
    return a | (rng() % 2 ? ir::U128{0x10 + rng() % 3} | (ir::U128{1} << 80) : ir::U128{1 + rng() % 9999});
  };
  p.src = addr();
  p.dst = addr();
  if (ir::proto::has_ports(p.protocol)) {
    p.sport = static_cast<std::uint16_t>(rng() % 3 ? ports[rng() % 13] : 1 + rng() % 65535);
    p.dport = static_cast<std::uint16_t>(rng() % 3 ? ports[rng() % 13] : 1 + rng() % 65535);
  }
  if (ir::proto::is_icmp(p.protocol)) p.icmp_type = rng() % 2 ? (p.protocol == 1 ? 8 : 128) : 2;
  return p;
}

}  // namespace

TEST_CASE("nft merge: merged groups, without covered rules, decide every sampled packet as the rules one by one") {
  std::mt19937 rng(11);
  std::size_t merged = 0, covered = 0;
  // seeds 7 and 8: more than one window of rules (the planner searches less
  // after a window that merged little, then more again)
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    auto doc = load_text(bench::generate_policy(seed > 6 ? 7000 : seed % 2 ? 300 : 2000, seed), "gen.rules");
    REQUIRE(doc->ok());
    for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) {
      auto entries = entries_of(doc->ir, dir, seed == 8);
      auto plan = nm::plan(entries);
      std::vector<std::vector<std::uint32_t>> groups;
      for (std::size_t g = 0; g < plan.groups(); ++g) groups.emplace_back(plan.group(g).begin(), plan.group(g).end());
      std::vector<std::uint32_t> seen;
      for (const auto& g : groups) {
        REQUIRE(!g.empty());
        seen.insert(seen.end(), g.begin(), g.end());
        if (g.size() > 1) ++merged;
        if (plan.covered_by[g[0]] != nm::kNone) {
          CHECK(g.size() == 1);
          CHECK(plan.covered_by[g[0]] < g[0]);
          ++covered;
        }
        for (std::size_t a = 0; a < g.size(); ++a) {
          CHECK(entries[g[a]].klass == entries[g[0]].klass);
          for (std::size_t b = a + 1; b < g.size(); ++b) CHECK_FALSE(nm::overlap(entries[g[a]], entries[g[b]]));
        }
      }
      std::sort(seen.begin(), seen.end());
      for (std::uint32_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == i);  // each entry once
      for (int n = 0; n < 3000; ++n) {
        analysis::Packet p = random_packet(rng);
        p.direction = dir;
        std::int64_t before = -1, after = -1;
        for (std::uint32_t i = 0; i < entries.size() && before < 0; ++i)
          if (entry_matches(doc->ir, entries[i], p)) before = entries[i].effect;
        for (std::size_t g = 0; g < groups.size() && after < 0; ++g)
          for (std::uint32_t i : groups[g]) {
            if (plan.covered_by[i] != nm::kNone) {  // left out: its holder, earlier, matches its packets
              if (entry_matches(doc->ir, entries[i], p)) CHECK(entry_matches(doc->ir, entries[plan.covered_by[i]], p));
              continue;
            }
            if (entry_matches(doc->ir, entries[i], p)) after = entries[i].effect;
          }
        INFO(analysis::format_packet(p));
        CHECK(before == after);
      }
    }
  }
  CHECK(merged > 50);  // the test merges something
  CHECK(covered > 50);  // and leaves something out
}

TEST_CASE("nft merge: the planner's shortcuts answer every holder test as the exact tests do") {
  // Signatures, summaries and listed ports decide most tests without the
  // entry and its rule; they must never answer otherwise. Pairs of entries
  // of generated policies, many of them one within the other.
  std::mt19937 rng(5);
  std::size_t held = 0, tests = 0;
  std::size_t decided[3] = {0, 0, 0};  // by the summary: unknown, no, yes
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto doc = load_text(bench::generate_policy(1500, seed), "gen.rules");
    REQUIRE(doc->ok());
    for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) {
      auto entries = entries_of(doc->ir, dir);
      REQUIRE(entries.size() > 500);
      auto check = [&](const nm::Entry& a, const nm::Entry& b) {
        const bool exact = nm::holds_whole(a, b);
        CHECK(nm::holds_as_planned(a, b) == exact);
        held += exact;
        ++tests;
        const nm::Summary sa = nm::summary_of(a), sb = nm::summary_of(b);
        if (sa.may_hold(sb)) ++decided[nm::holds_by_listed(sa.listed, b, nm::protocols_of(b.alt())) + 1];
      };
      for (std::size_t i = 0; i < 400; ++i)
        for (std::size_t j = 0; j < 400; ++j) check(entries[i], entries[j]);
      for (int n = 0; n < 100000; ++n) check(entries[rng() % entries.size()], entries[rng() % entries.size()]);
    }
  }
  CHECK(held > 10000);
  CHECK(tests > 1000000);
  for (std::size_t n : decided) CHECK(n > 1000);  // every kind of answer was given
}

TEST_CASE("nft merge: rules of one shape become one rule with a set of concatenations") {
  std::string text = "default block in\n";
  for (int i = 1; i <= 20; ++i) {
    text += "pass in protocol tcp, to 192.0.2." + std::to_string(i) + " port " + std::to_string(1000 + i) + " >> done\n";
    if (i == 10) text += "block in protocol tcp, to 192.0.2.15 port 1015 >> done\n";  // decides before pass 15
  }
  auto doc = load_text(text, "m.rules");
  REQUIRE(doc->ok());
  backends::EmitOptions options;
  options.sources = &doc->sources;
  diag::Sink sink;
  std::string out;
  REQUIRE(backends::compile(*backends::find("nft"), doc->ir, options, out, sink));
  CHECK(out.find("ip daddr . tcp dport @rules_1 return comment \"m.rules:2:1 and 18 more\"") != std::string::npos);
  CHECK(out.find("192.0.2.20 . 1020 comment \"m.rules:22:1\"") != std::string::npos);
  CHECK(out.find("type ipv4_addr . inet_service; flags interval;") != std::string::npos);
  // pass 15 may not move above the block, which decides all its packets first:
  // it needs no kernel rule, and a comment says so
  auto set = out.find("@rules_1 return");
  auto block = out.find("ip daddr 192.0.2.15 tcp dport 1015 drop");
  auto note = out.find("# 1 rule needs no kernel rule here: an earlier rule decides every packet it matches:\n"
                       "\t\t#   m.rules:17:1\n");
  CHECK(set < block);
  CHECK(block < note);
  CHECK(note != std::string::npos);
  CHECK(out.find("192.0.2.15 . 1015") == std::string::npos);
}

TEST_CASE("--prune: without the rules lint proves never decide a packet, every sampled packet is decided by the same rule") {
  std::mt19937 rng(5);
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto doc = load_text(bench::generate_policy(seed == 3 ? 6000 : 1500, seed), "gen.rules");
    REQUIRE(doc->ok());
    auto dead = backends::dead_source_rules(doc->ir, doc->ast, doc->sources);
    CHECK(dead.size() > 100);
    ir::Policy kept = backends::without_source_rules(doc->ir, dead);
    CHECK(kept.rules.size() < doc->ir.rules.size());
    for (const ir::Rule& r : kept.rules) CHECK_FALSE(std::binary_search(dead.begin(), dead.end(), r.source_rule));
    std::size_t by_rule = 0;
    for (int n = 0; n < 6000; ++n) {
      analysis::Packet p = random_packet(rng);
      analysis::Verdict before = analysis::evaluate(doc->ir, p), after = analysis::evaluate(kept, p);
      INFO(analysis::format_packet(p));
      CHECK(before.action == after.action);
      REQUIRE(before.by == after.by);
      if (before.by != analysis::Verdict::By::Rule) continue;
      ++by_rule;
      // the same source rule decides: the same verdict, state and log prefix
      CHECK(doc->ir.rules[before.rule].source_rule == kept.rules[after.rule].source_rule);
      CHECK(doc->ir.label(doc->ir.rules[before.rule]) == kept.label(kept.rules[after.rule]));
      CHECK(before.created_state == after.created_state);
    }
    CHECK(by_rule > 1000);
    // the kept rules' labels are theirs, and every target writes them
    std::size_t labelled = 0;
    for (const ir::Rule& r : kept.rules) labelled += !kept.label(r).empty();
    CHECK(labelled > 100);
    backends::EmitOptions options;
    options.sources = &doc->sources;
    for (const char* target : {"nft", "iptables", "pf"}) {
      diag::Sink sink;
      std::string out;
      CHECK(backends::compile(*backends::find(target), kept, options, out, sink));
      CHECK(out.find("rule 1") != std::string::npos);  // the generator's labels: "rule N"
    }
  }
}
