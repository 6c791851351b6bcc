// Lint's claims against brute force: thousands of small random policies
// (fixed seeds), each judged packet by packet with the reference evaluator
// over an exhaustive small universe.
//
// The universe holds one packet per atom of the partition that every value
// the generator can write induces, per field: addresses 10.0.0.1, 10.0.0.2
// (same /24), 192.0.2.1 (outside) and 2001:db8::1, 2001:db8::2; source ports
// 1000 (in 1000-1999) and 40000; destination ports 22, 80, 1000 and 3000;
// protocols tcp, udp, sctp, icmp (types 8 and 0), gre and esp; interface "a"
// and an unnamed one; both directions. Every rule is a product of unions of
// atoms, so "no packet of the universe" is exactly "no packet at all".
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "analysis/decisions.hpp"
#include "analysis/evaluator.hpp"
#include "analysis/lint.hpp"
#include "frontend.hpp"

using namespace rulec;
using analysis::Packet;

namespace {

std::vector<Packet> universe() {
  std::vector<Packet> out;
  const char* v4[] = {"10.0.0.1", "10.0.0.2", "192.0.2.1"};
  const char* v6[] = {"2001:db8::1", "2001:db8::2"};
  for (int dir = 0; dir < 2; ++dir)
    for (const char* iface : {"a", ""})
      for (int fam = 0; fam < 2; ++fam) {
        std::vector<ir::U128> addrs;
        for (const char* a : fam ? std::span<const char*>(v6) : std::span<const char*>(v4))
          addrs.push_back(ir::parse_address(a)->second);
        Packet p;
        p.direction = static_cast<ir::Direction>(dir);
        p.interface = iface;
        p.family = static_cast<ir::Family>(fam);
        for (ir::U128 src : addrs)
          for (ir::U128 dst : addrs) {
            p.src = src;
            p.dst = dst;
            p.sport = p.dport = p.icmp_type = 0;
            for (std::uint8_t proto : {6, 17, 132}) {
              p.protocol = proto;
              for (std::uint16_t sport : {1000, 40000})
                for (std::uint16_t dport : {22, 80, 1000, 3000}) {
                  p.sport = sport;
                  p.dport = dport;
                  out.push_back(p);
                }
            }
            p.sport = p.dport = 0;
            for (std::uint8_t proto : {47, 50}) {
              p.protocol = proto;
              out.push_back(p);
            }
            if (fam == 0)
              for (std::uint8_t type : {8, 0}) {
                p.protocol = 1;
                p.icmp_type = type;
                out.push_back(p);
              }
            p.icmp_type = 0;
          }
      }
  return out;
}

std::string random_rule(std::mt19937& rng) {
  auto pick = [&](std::initializer_list<const char*> xs) { return *(xs.begin() + rng() % xs.size()); };
  std::string r = pick({"pass", "pass", "block", "reject"});
  r += pick({"", "", " in", " out"});
  r += pick({"", "", " on a"});
  std::vector<std::string> clauses;
  int proto = rng() % 6;
  if (proto == 1) clauses.push_back("protocol tcp");
  if (proto == 2) clauses.push_back("protocol { tcp, udp }");
  if (proto == 3) clauses.push_back("protocol gre");
  if (proto == 4) clauses.push_back(rng() % 2 ? "protocol icmp, icmp-type echo-request" : "protocol icmp");
  bool ports = proto <= 2 && rng() % 2;
  bool v6 = rng() % 4 == 0;
  if (rng() % 3 == 0) {
    std::string c = "from ";
    c += v6 ? "2001:db8::1" : pick({"10.0.0.1", "10.0.0.0/24"});
    if (ports && rng() % 3 == 0) c += " port 1000-1999";
    clauses.push_back(c);
  }
  if (rng() % 3 == 0) {
    std::string c = "to ";
    c += v6 ? "2001:db8::1" : pick({"10.0.0.1", "10.0.0.0/24"});
    if (ports) c += std::string(" port ") + pick({"22", "80", "{ 22, 80 }", "1000-1999"});
    clauses.push_back(c);
  } else if (ports) {
    clauses.push_back(std::string("to port ") + pick({"22", "80", "{ 22, 80 }", "1000-1999"}));
  }
  if (v6 && rng() % 2) clauses.push_back("family inet6");
  for (std::size_t i = 0; i < clauses.size(); ++i) r += (i ? ", " : " ") + clauses[i];
  std::string opts;
  if (rng() % 3 == 0) opts += "state";
  if (rng() % 3 == 0) opts += opts.empty() ? "done" : ", done";
  if (!opts.empty()) r += " >> " + opts;
  return r + "\n";
}

std::string random_policy(std::mt19937& rng) {
  std::string text;
  const char* defaults[] = {"", "default block\n", "default block in\n", "default pass\n", "default reject out\n"};
  text += defaults[rng() % 5];
  int n = 2 + static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) text += random_rule(rng);
  return text;
}

analysis::Effect effect(const ir::Policy& p, const analysis::Verdict& v) {
  bool state = v.by == analysis::Verdict::By::Rule && p.rules[static_cast<std::size_t>(v.rule)].state;
  return {v.action, v.action == ir::Action::Pass && state};
}

ir::Policy without(const ir::Policy& p, const std::vector<bool>& drop) {
  ir::Policy out = p;
  std::erase_if(out.rules, [&](const ir::Rule& r) { return drop[r.source_rule]; });
  return out;
}

std::vector<analysis::Effect> verdicts(const ir::Policy& p, const std::vector<Packet>& u) {
  std::vector<analysis::Effect> out;
  out.reserve(u.size());
  for (const Packet& pk : u) out.push_back(effect(p, analysis::evaluate(p, pk)));
  return out;
}

/// Source rule of each RC30x finding, by code.
std::multimap<std::string, std::uint32_t> findings(const Document& doc) {
  diag::Sink sink;
  analysis::lint(doc.ir, doc.ast, doc.sources, sink);
  std::multimap<std::string, std::uint32_t> out;
  for (const diag::Diagnostic& d : sink.all())
    for (std::uint32_t s = 0; s < doc.ir.source_rules.size(); ++s)
      if (doc.ir.source_rules[s].begin <= d.loc.begin && d.loc.begin < doc.ir.source_rules[s].end)
        out.insert({d.code, s});
  return out;
}

void check_policy(const Document& doc, const std::vector<Packet>& u) {
  const ir::Policy& p = doc.ir;
  auto found = findings(doc);
  std::size_t n = p.source_rules.size();
  std::vector<bool> removed(n, false), quiet(n, true);
  for (const auto& [code, s] : found) {
    if (code == "RC300" || code == "RC301" || code == "RC302") removed[s] = true;
    if (code == "RC304") quiet[s] = false;
  }
  auto base = verdicts(p, u);
  // Every rule reported as deciding nothing decides no packet, and removing it alone changes nothing.
  for (const auto& [code, s] : found) {
    if (code != "RC300" && code != "RC302") continue;
    std::vector<bool> one(n, false);
    one[s] = true;
    CHECK_MESSAGE(verdicts(without(p, one), u) == base, "rule ", s + 1, " claimed ", code);
    for (const Packet& pk : u) {
      auto v = analysis::evaluate(p, pk);
      if (v.by == analysis::Verdict::By::Rule)
        CHECK_MESSAGE(p.rules[static_cast<std::size_t>(v.rule)].source_rule != s,
                      "rule ", s + 1, " decides ", analysis::format_packet(pk));
    }
  }
  // Removing every reported rule at once changes no verdict...
  ir::Policy kept = without(p, removed);
  auto after = verdicts(kept, u);
  CHECK_MESSAGE(after == base, "removing every reported rule changed a verdict");
  // ...and removing any rule that was not reported then changes at least one.
  for (std::uint32_t s = 0; s < n; ++s) {
    if (removed[s] || !quiet[s]) continue;
    std::vector<bool> one = removed;
    one[s] = true;
    CHECK_MESSAGE(verdicts(without(p, one), u) != after, "rule ", s + 1, " is redundant but not reported");
  }
  // The engine's own verdicts: each universe packet lies in the part its evaluator decider decides.
  analysis::Decisions dec(p);
  auto parts = dec.decide(analysis::PacketSet::all(p));
  for (const Packet& pk : u) {
    auto v = analysis::evaluate(p, pk);
    std::int64_t want = v.by == analysis::Verdict::By::Rule ? v.rule : -1;
    int hits = 0;
    for (const auto& part : parts)
      if (part.packets.contains(pk, p)) {
        ++hits;
        CHECK_MESSAGE(part.rule == want, analysis::format_packet(pk));
      }
    CHECK_MESSAGE(hits == 1, analysis::format_packet(pk));
  }
}

}  // namespace

TEST_CASE("lint property: claims agree with brute-force evaluation over an exhaustive universe") {
  const std::vector<Packet> u = universe();
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    int checked = 0;
    for (int i = 0; i < 700; ++i) {
      std::string text = random_policy(rng);
      auto doc = load_text(text, "p.rules");
      if (!doc->ok()) continue;
      INFO("seed ", seed, " policy ", i, ":\n", text);
      check_policy(*doc, u);
      ++checked;
    }
    CHECK(checked > 500);
  }
}
