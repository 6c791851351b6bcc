// The rule index and the decisions built on it, against brute force, on the
// benchmark's generated policies (dense: broad rules overlap a fixed share
// of all rules, hosts and ports repeat).
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include "analysis/decisions.hpp"
#include "analysis/evaluator.hpp"
#include "analysis/rule_index.hpp"
#include "frontend.hpp"
#include "policy_gen.hpp"

using namespace rulec;
using analysis::Packet;
using analysis::PacketSet;
using analysis::RuleIndex;

namespace {

/// A generated policy, its rules' packet sets and their ranks (Decisions'
/// ranks, which the decider test below checks against the evaluator).
struct Indexed {
  std::unique_ptr<Document> doc;
  std::vector<PacketSet> matches;
  std::vector<std::uint32_t> rank;  // the index keeps a reference to it
};

Indexed indexed(std::size_t rules, std::uint64_t seed) {
  Indexed out{load_text(bench::generate_policy(rules, seed), "gen.rules"), {}, {}};
  REQUIRE(out.doc->ok());
  const ir::Policy& p = out.doc->ir;
  analysis::Decisions d(p);
  for (std::uint32_t r = 0; r < p.rules.size(); ++r) {
    out.matches.push_back(d.match(r));
    out.rank.push_back(d.rank(r));
  }
  return out;
}

}  // namespace

TEST_CASE("rule index: decider agrees with the evaluator on probed and random packets of generated policies") {
  for (std::uint64_t seed : {1, 2, 3}) {
    // And rules the generator never writes: broad ones on every port, one
    // that names only a source and every port.
    auto doc = load_text(bench::generate_policy(400, seed) +
                             "block in on wan\npass out on dmz >> done\npass in protocol tcp, from 192.0.2.0/24\n",
                         "gen.rules");
    REQUIRE(doc->ok());
    const ir::Policy& p = doc->ir;
    analysis::Decisions d(p);
    bench::Rng rng{seed};
    std::size_t checked = 0, by_rule = 0;
    for (std::uint32_t r = 0; r < p.rules.size(); ++r) {
      std::vector<Packet> packets = d.probes(d.match(r));
      // And a packet with a random port and address near the rule's.
      if (!packets.empty()) {
        Packet q = packets.front();
        q.dport = static_cast<std::uint16_t>(ir::proto::has_ports(q.protocol) ? rng.below(65536) : 0);
        q.direction = static_cast<ir::Direction>(rng.below(2));
        packets.push_back(q);
      }
      for (const Packet& pk : packets) {
        analysis::Verdict v = analysis::evaluate(p, pk);
        std::int64_t want = v.by == analysis::Verdict::By::Rule ? v.rule : -1;
        CHECK_MESSAGE(d.decider(pk) == want, "seed ", seed, " packet ", analysis::format_packet(pk));
        ++checked;
        by_rule += want >= 0;
      }
    }
    CHECK(checked > 2000);
    CHECK(by_rule > checked / 2);  // the packets reach rules, not only defaults
  }
}

TEST_CASE("rule index: in_rank_order hands out every overlapping rule of the ranks asked, once, in rank order") {
  Indexed x = indexed(600, 9);
  const ir::Policy& p = x.doc->ir;
  const auto& matches = x.matches;
  const auto& rank = x.rank;
  RuleIndex index(p, matches, rank);
  bench::Rng rng{5};
  auto n = static_cast<std::uint32_t>(p.rules.size());
  for (int t = 0; t < 300; ++t) {
    std::uint32_t j = rng.below(n);
    std::uint32_t lo = rng.below(n), hi = lo + rng.below(n - lo);
    bool ascending = rng.below(2) == 0;
    std::vector<std::uint32_t> got;
    CHECK(index.in_rank_order(RuleIndex::query_of(matches[j]), lo, hi, ascending, [&](std::uint32_t k) {
      got.push_back(k);
      return true;
    }));
    std::vector<std::uint32_t> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());  // each once
    CHECK(std::is_sorted(got.begin(), got.end(), [&](std::uint32_t a, std::uint32_t b) {
      return ascending ? rank[a] < rank[b] : rank[a] > rank[b];
    }));
    for (std::uint32_t k = 0; k < n; ++k) {
      bool wanted = rank[k] >= lo && rank[k] <= hi && matches[k].intersects(matches[j]);
      bool handed = std::binary_search(sorted.begin(), sorted.end(), k);
      if (wanted) CHECK_MESSAGE(handed, "query ", j, " missed rule ", k);
      if (handed) CHECK((rank[k] >= lo && rank[k] <= hi));
    }
  }
}

TEST_CASE("rule index: a search that looks at too many rules says it gave up") {
  Indexed x = indexed(300, 4);
  const ir::Policy& p = x.doc->ir;
  RuleIndex index(p, x.matches, x.rank);
  PacketSet all = PacketSet::all(p);
  std::size_t visits = 0;
  CHECK_FALSE(index.in_rank_order(RuleIndex::query_of(all), 0, UINT32_MAX, true, [&](std::uint32_t) {
    ++visits;
    return true;
  }, 10));
  CHECK(visits <= 10);
  CHECK(index.in_rank_order(RuleIndex::query_of(all), 0, UINT32_MAX, true, [&](std::uint32_t) { return true; }));
}

TEST_CASE("rule index: remove_covered, on two threads, sets aside exactly the rules one rule of higher precedence holds") {
  auto doc = load_text(bench::generate_policy(2200, 5), "gen.rules");
  REQUIRE(doc->ok());
  const ir::Policy& p = doc->ir;
  REQUIRE(p.rules.size() >= analysis::Decisions::kTwoThreads);
  analysis::Decisions d(p);
  std::vector<std::vector<std::uint32_t>> holders = d.remove_covered();
  // Brute force: the holder of lowest rank of every IR rule.
  std::vector<std::int64_t> first(p.rules.size(), -1);
  for (std::uint32_t r = 0; r < p.rules.size(); ++r) {
    if (d.match(r).empty()) continue;
    for (std::uint32_t k = 0; k < p.rules.size(); ++k)
      if (d.rank(k) < d.rank(r) && !d.match(k).empty() && d.match(k).contains(d.match(r)) &&
          (first[r] < 0 || d.rank(k) < d.rank(static_cast<std::uint32_t>(first[r]))))
        first[r] = k;
  }
  std::size_t set_aside = 0;
  for (std::uint32_t s = 0; s < d.source_rule_count(); ++s) {
    const auto& rules = d.rules_of(s);
    bool held = !rules.empty() && std::all_of(rules.begin(), rules.end(), [&](std::uint32_t r) {
      return first[r] >= 0 || d.match(r).empty();
    }) && std::any_of(rules.begin(), rules.end(), [&](std::uint32_t r) { return first[r] >= 0; });
    CAPTURE(s);
    CHECK(d.removed(s) == held);
    std::vector<std::uint32_t> want;
    if (held)
      for (std::uint32_t r : rules)
        if (first[r] >= 0) want.push_back(static_cast<std::uint32_t>(first[r]));
    CHECK(holders[s] == want);
    set_aside += held;
  }
  CHECK(set_aside > d.source_rule_count() / 4);  // the generator's policies have many
}
