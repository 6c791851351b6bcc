// The pf and Windows backends measured against the reference evaluator.
//
// Random small policies are compiled; the emitted text is read back by the
// independent firewall models of pf_windows_sims.hpp and judged on thousands
// of sampled packets, each compared with analysis::evaluate. Plus the PPTP
// case that order-based generators get wrong on Windows, and escaping.
#include <doctest/doctest.h>
#include <algorithm>
#include <optional>
#include <fmt/format.h>

#include "analysis/evaluator.hpp"
#include "backends/backend.hpp"
#include "backends/windows_plan.hpp"
#include "frontend.hpp"
#include "pf_windows_sims.hpp"
#include "policy_gen.hpp"  // bench/: the same splitmix Rng as the benchmarks

using namespace rulec;
using analysis::Packet;
using testing::SimVerdict;

namespace {

using bench::Rng;

/// One element of a fixed array, chosen by `r`.
template <typename T, std::size_t N>
const T& pick(Rng& r, const T (&a)[N]) {
  return a[r.below(N)];
}

std::string random_rule(Rng& r, bool stateful = false) {
  static const char* actions[] = {"pass", "pass", "block", "reject"};
  static const char* dirs[] = {"", " in", " out"};
  static const char* ifaces[] = {"", "", " on lan", " on wan"};
  static const char* protos[] = {"", "protocol tcp", "protocol udp", "protocol { tcp, udp }", "protocol gre",
                                 "protocol esp", "protocol 47", "protocol icmp", "protocol icmpv6"};
  static const char* v4[] = {"192.0.2.1", "192.0.2.0/28", "198.51.100.7", "{ 192.0.2.5, 203.0.113.9 }", "any"};
  static const char* v6[] = {"2001:db8::1", "2001:db8::/121", "{ 2001:db8::80, 2001:db8:1::1 }", "any"};
  static const char* ports[] = {"22", "53", "http", "1000-2000", "{ 80, 443 }", "1723"};
  static const char* opts[] = {"state", "done", "log", "label \"x\""};
  std::string s = std::string(pick(r, actions)) + pick(r, dirs) + pick(r, ifaces);
  std::vector<std::string> clauses;
  std::string proto = pick(r, protos);
  bool icmp = proto.find("icmp") != std::string::npos;
  bool portable = !icmp && (proto.empty() || proto.find("tcp") != std::string::npos || proto.find("udp") != std::string::npos);
  if (!proto.empty()) clauses.push_back(proto);
  if (proto == "protocol icmp" && r.below(2)) clauses.push_back("icmp-type echo-request");
  bool six = proto == "protocol icmpv6" || (proto != "protocol icmp" && r.below(3) == 0);
  for (const char* dir : {"from", "to"}) {
    if (r.below(2)) continue;
    std::string c = std::string(dir) + " " + (six ? pick(r, v6) : pick(r, v4));
    if (portable && r.below(2)) c += std::string(" port ") + pick(r, ports);
    clauses.push_back(c);
  }
  for (std::size_t i = 0; i < clauses.size(); ++i) s += (i ? ", " : " ") + clauses[i];
  std::vector<std::string> chosen;
  for (const char* o : opts)
    if ((stateful && o == opts[0] && s.rfind("pass", 0) == 0) || r.below(3) == 0) chosen.push_back(o);
  for (std::size_t i = 0; i < chosen.size(); ++i) s += (i ? ", " : " >> ") + chosen[i];
  return s + "\n";
}

std::string random_policy(Rng& r) {
  static const char* defaults[] = {"", "default block\n", "default block in\n", "default pass out\n",
                                   "default block\ndefault pass out\n", "default reject in\n"};
  std::string text = pick(r, defaults);
  unsigned n = 1 + r.below(8);
  for (unsigned i = 0; i < n; ++i) text += random_rule(r);
  return text;
}

Packet random_packet(Rng& r) {
  static const char* v4[] = {"192.0.2.1", "192.0.2.5", "192.0.2.20", "198.51.100.7", "203.0.113.9"};
  static const char* v6[] = {"2001:db8::1", "2001:db8::80", "2001:db8:1::1", "2001:db8::7f"};
  static const std::uint8_t protos[] = {6, 6, 17, 17, 47, 50, 0xff /* ICMP of the family */};
  static const std::uint16_t ports[] = {22, 53, 80, 443, 1500, 1723, 40000};
  static const std::uint8_t types[] = {0, 3, 8, 11, 128, 129};
  static const char* ifaces[] = {"lan", "wan", ""};
  Packet p;
  p.direction = r.below(2) ? ir::Direction::In : ir::Direction::Out;
  p.interface = pick(r, ifaces);
  p.family = r.below(3) == 0 ? ir::Family::Inet6 : ir::Family::Inet;
  bool six = p.family == ir::Family::Inet6;
  p.protocol = pick(r, protos);
  if (p.protocol == 0xff) p.protocol = six ? ir::proto::icmpv6 : ir::proto::icmp;
  p.src = ir::parse_address(six ? pick(r, v6) : pick(r, v4))->second;
  p.dst = ir::parse_address(six ? pick(r, v6) : pick(r, v4))->second;
  if (ir::proto::has_ports(p.protocol)) {
    p.sport = pick(r, ports);
    p.dport = pick(r, ports);
  }
  if (ir::proto::is_icmp(p.protocol)) p.icmp_type = pick(r, types);
  return p;
}

std::string compile(const std::string& target, const ir::Policy& policy, diag::Sink& sink, bool strict = false) {
  const backends::BackendEntry* entry = backends::find(target);
  REQUIRE(entry);
  backends::EmitOptions options;
  options.strict = strict;
  std::string out;
  backends::compile(*entry, policy, options, out, sink);
  return out;
}

SimVerdict verdict_of(const analysis::Verdict& v) {
  return v.action == ir::Action::Pass ? SimVerdict::Pass
                                      : v.action == ir::Action::Reject ? SimVerdict::Reject : SimVerdict::Block;
}

const char* name(SimVerdict v) { return v == SimVerdict::Pass ? "pass" : v == SimVerdict::Block ? "block" : "reject"; }

}  // namespace

TEST_CASE("pf: emitted rules give the evaluator's verdict on sampled packets, with state") {
  Rng rng{7};
  int policies = 0, packets = 0;
  while (policies < 800) {
    std::string text = random_policy(rng);
    auto doc = load_text(text, "random.rules");
    if (!doc->ok()) continue;
    ++policies;
    diag::Sink sink;
    std::string pf = compile("pf", doc->ir, sink);
    REQUIRE_MESSAGE(!pf.empty(), text);
    std::string error;
    auto sim = testing::PfSim::parse(pf, error);
    REQUIRE_MESSAGE(sim, error, "\n", pf);
    analysis::StateTable states;
    testing::SimStates pf_states;
    for (int i = 0; i < 60; ++i) {
      Packet p = random_packet(rng);
      SimVerdict want = verdict_of(analysis::evaluate(doc->ir, p, &states));
      SimVerdict got = sim->judge(p, true, &pf_states);
      ++packets;
      if (want != got) FAIL_CHECK(text, pf, analysis::format_packet(p), ": evaluator ", name(want), ", pf ", name(got));
      if (want != SimVerdict::Pass) continue;
      Packet reply = analysis::reply_to(p);
      // A reply that no state covers is a SYN-ACK to pf, and `flags S/SA` rules miss it.
      bool covered = states.matches(reply);
      want = verdict_of(analysis::evaluate(doc->ir, reply, &states));
      got = sim->judge(reply, !covered && reply.protocol == ir::proto::tcp, &pf_states);
      ++packets;
      if (want != got)
        FAIL_CHECK(text, pf, "reply ", analysis::format_packet(reply), ": evaluator ", name(want), ", pf ", name(got));
    }
  }
  MESSAGE("pf: ", policies, " policies, ", packets, " packets");
}

/// The PowerShell script for a policy, with the rule-by-rule method when `by_rule`.
std::string windows_script(const ir::Policy& policy, bool by_rule, diag::Sink& sink) {
  if (!by_rule) return compile("windows", policy, sink);
  backends::windows::PlanOptions options;
  options.by_rule = true;
  backends::windows::Plan plan;
  if (!backends::windows::plan(policy, options, sink, plan)) return {};
  return backends::windows::powershell_script(policy, plan, {});
}

TEST_CASE("windows: the order-free rule set gives the evaluator's verdict on sampled packets") {
  Rng rng{11};
  int policies = 0, packets = 0, refused = 0;
  while (policies < 800) {
    std::string text = random_policy(rng);
    auto doc = load_text(text, "random.rules");
    if (!doc->ok()) continue;
    ++policies;
    bool by_rule = policies % 2 == 0;  // both methods: the whole-direction one and the large-policy one
    diag::Sink sink;
    std::string ps = windows_script(doc->ir, by_rule, sink);
    if (ps.empty() && by_rule && !sink.all().empty() && sink.all().back().code == "RC556") {
      ++refused;  // the rule-by-rule method cannot cover such a policy under Allow
      continue;
    }
    REQUIRE_MESSAGE(!ps.empty(), text);
    std::string error;
    auto sim = testing::WinSim::parse(ps, error);
    REQUIRE_MESSAGE(sim, error, "\n", ps);
    for (int i = 0; i < 100; ++i) {
      Packet p = random_packet(rng);
      bool want = analysis::evaluate(doc->ir, p).passed();
      bool got = sim->judge(p, nullptr) == SimVerdict::Pass;
      ++packets;
      if (want != got)
        FAIL_CHECK(text, ps, analysis::format_packet(p), ": evaluator ", want ? "pass" : "drop", ", Windows ",
                   got ? "pass" : "drop");
    }
  }
  MESSAGE("windows: ", policies, " policies (half rule by rule, ", refused, " of those refused), ", packets, " packets");
}

TEST_CASE("windows: rule by rule, many hosts cut wide rules (each narrowed at once), as the evaluator says") {
  // Hosts blocked and passed between wide rules: a wide rule's region is its
  // match minus many earlier matches that differ from it in one field (the
  // source) or in two (protocol and port), which the planner narrows and cuts
  // in batches. Compared with the evaluator on packets from those hosts.
  Rng rng{41};
  for (int round = 0; round < 6; ++round) {
    std::string text = round % 2 ? "default block\n" : "default block in\ndefault pass out\n";
    for (int i = 0; i < 120; ++i) {
      unsigned host = rng.below(40), port = 20 + rng.below(12);
      switch (rng.below(6)) {
        case 0: text += fmt::format("block in from 10.0.0.{}\n", host); break;
        case 1: text += fmt::format("pass in protocol tcp, to port {}\n", port); break;
        case 2: text += fmt::format("block in protocol udp, from 10.0.0.{}, to port {}\n", host, port); break;
        case 3: text += fmt::format("pass in from 10.0.0.{} >> done\n", host); break;
        case 4: text += fmt::format("pass in protocol {{ tcp, udp }}, from 10.0.0.{}/30\n", host & ~3u); break;
        default: text += fmt::format("block in protocol tcp, to port {}-{}\n", port, port + rng.below(3));
      }
    }
    auto doc = load_text(text, "hosts.rules");
    REQUIRE(doc->ok());
    diag::Sink sink;
    std::string ps = windows_script(doc->ir, true, sink);
    REQUIRE_MESSAGE(!ps.empty(), diag::render(sink.all(), doc->sources, diag::Format::Text));
    std::string error;
    auto sim = testing::WinSim::parse(ps, error);
    REQUIRE_MESSAGE(sim, error);
    for (int k = 0; k < 2000; ++k) {
      Packet p;
      p.direction = ir::Direction::In;
      p.family = ir::Family::Inet;
      p.protocol = rng.below(3) ? (rng.below(2) ? 6 : 17) : 47;
      p.src = ir::parse_address(fmt::format("10.0.0.{}", rng.below(44)))->second;
      p.dst = ir::parse_address("192.0.2.1")->second;
      if (ir::proto::has_ports(p.protocol)) {
        p.sport = 40000;
        p.dport = static_cast<std::uint16_t>(18 + rng.below(18));
      }
      bool want = analysis::evaluate(doc->ir, p).passed();
      bool got = sim->judge(p, nullptr) == SimVerdict::Pass;
      if (want != got)
        FAIL_CHECK(text, analysis::format_packet(p), ": evaluator ", want ? "pass" : "drop", ", Windows ",
                   got ? "pass" : "drop");
    }
  }
}

TEST_CASE("windows: rule by rule, a generated policy of 3,000 rules, as the evaluator says") {
  // Large enough for the large-policy method's two threads (from 2,000 IR
  // rules) and for its shortcut: under a default of Block, a block rule's
  // packets are only probed for one it decides. Packets: a realistic one of
  // each sampled rule's match, and random ones.
  std::string text = bench::generate_policy(3000, 7);
  auto at = text.find("default pass out\n");
  REQUIRE(at != std::string::npos);
  text.replace(at, 17, "default block out\n");
  auto doc = load_text(text, "generated.rules");
  REQUIRE(doc->ok());
  REQUIRE(doc->ir.rules.size() >= 3000);
  diag::Sink sink;
  std::string ps = windows_script(doc->ir, true, sink);
  REQUIRE(!ps.empty());
  std::string error;
  auto sim = testing::WinSim::parse(ps, error);
  REQUIRE_MESSAGE(sim, error);
  Rng rng{5};
  int checked = 0, passed = 0;
  for (int k = 0; k < 3000; ++k) {
    std::optional<Packet> p;
    if (k % 2) p = random_packet(rng);
    else p = analysis::PacketSet::of(doc->ir.rules[rng.below(doc->ir.rules.size())].match, doc->ir).witness(doc->ir);
    // SCTP with ports is blocked on every port (RC553, reported below).
    if (!p || p->protocol == ir::proto::sctp) continue;
    bool want = analysis::evaluate(doc->ir, *p).passed();
    bool got = sim->judge(*p, nullptr) == SimVerdict::Pass;
    ++checked;
    passed += want;
    if (want != got)
      FAIL_CHECK(analysis::format_packet(*p), ": evaluator ", want ? "pass" : "drop", ", Windows ", got ? "pass" : "drop");
  }
  CHECK(checked > 2400);
  CHECK(passed > checked / 10);
  CHECK(std::any_of(sink.all().begin(), sink.all().end(), [](const auto& d) { return d.code == "RC553"; }));  // the allow rules are reached, not only the default
}

TEST_CASE("windows: rule by rule reports reject and log for the same rules as the whole-direction method") {
  // The large-policy method only looks for one packet a rule decides where
  // it covers none of them (block rules under Block): the findings must not
  // change.
  Rng rng{23};
  for (int policies = 0; policies < 300;) {
    std::string text = random_policy(rng);
    auto doc = load_text(text, "random.rules");
    if (!doc->ok()) continue;
    ++policies;
    diag::Sink whole, by_rule;
    std::string a = windows_script(doc->ir, false, whole), b = windows_script(doc->ir, true, by_rule);
    if (b.empty()) continue;  // RC556
    auto findings = [](const diag::Sink& s) {
      std::vector<std::pair<std::string, std::uint32_t>> out;
      for (const auto& d : s.all())
        if (d.code == "RC551" || d.code == "RC552") out.emplace_back(d.code, d.loc.begin);
      std::sort(out.begin(), out.end());
      return out;
    };
    CHECK_MESSAGE(findings(whole) == findings(by_rule), text);
  }
}

TEST_CASE("windows: rule by rule, rules that overlap too much are refused (RC554)") {
  std::string text = "default block\n";
  for (int i = 0; i < 200; ++i)
    text += fmt::format("block in from 10.0.{}.{}\npass in protocol tcp, to port {}\n", i / 200, i % 200, 1 + i);
  auto doc = load_text(text, "overlap.rules");
  REQUIRE(doc->ok());
  backends::windows::PlanOptions options;
  options.by_rule = true;
  backends::windows::Plan plan;
  diag::Sink enough;
  CHECK(backends::windows::plan(doc->ir, options, enough, plan));
  options.max_looks = 1000;  // every pass meets every block after it: about 100 looks each
  diag::Sink sink;
  CHECK_FALSE(backends::windows::plan(doc->ir, options, sink, plan));
  REQUIRE(sink.has_errors());
  CHECK(sink.all().back().code == "RC554");
  CHECK(sink.all().back().message.find("overlap too much") != std::string::npos);
}

TEST_CASE("windows: with every pass stateful and default block, state matches too") {
  // Windows keeps state for every allowed connection; the reference only for
  // passes with `state`. When every pass has it, both must agree on replies.
  Rng rng{23};
  int policies = 0, packets = 0;
  while (policies < 300) {
    std::string text = "default block\n";
    for (unsigned i = 0, n = 1 + rng.below(7); i < n; ++i) text += random_rule(rng, true);
    auto doc = load_text(text, "stateful.rules");
    if (!doc->ok()) continue;
    ++policies;
    diag::Sink sink;
    std::string ps = compile("windows", doc->ir, sink);
    std::string error;
    auto sim = testing::WinSim::parse(ps, error);
    REQUIRE_MESSAGE(sim, error, "\n", ps);
    analysis::StateTable states;
    testing::SimStates win_states;
    for (int i = 0; i < 60; ++i) {
      Packet p = random_packet(rng);
      for (const Packet& q : {p, analysis::reply_to(p)}) {
        bool want = analysis::evaluate(doc->ir, q, &states).passed();
        bool got = sim->judge(q, &win_states) == SimVerdict::Pass;
        ++packets;
        if (want != got)
          FAIL_CHECK(text, ps, analysis::format_packet(q), ": evaluator ", want ? "pass" : "drop", ", Windows ",
                     got ? "pass" : "drop");
      }
    }
  }
  MESSAGE("windows with state: ", policies, " policies, ", packets, " packets");
}

TEST_CASE("windows: PPTP (allow tcp 1723, allow gre, block any) passes, both ways, with state") {
  auto doc = load_text(
      "default block\n"
      "pass protocol tcp, to port 1723 >> state, done\n"
      "pass protocol gre >> state, done\n"
      "block\n",
      "pptp.rules");
  REQUIRE(doc->ok());
  diag::Sink sink;
  std::string ps = compile("windows", doc->ir, sink, /*strict=*/true);
  REQUIRE_MESSAGE(!ps.empty(), diag::render(sink.all(), doc->sources, diag::Format::Text));
  std::string error;
  auto sim = testing::WinSim::parse(ps, error);
  REQUIRE_MESSAGE(sim, error);
  testing::SimStates states;
  std::string perr;
  for (const char* text : {"out tcp 192.0.2.7:40000 -> 198.51.100.2:1723", "in tcp 198.51.100.2:1723 -> 192.0.2.7:40000",
                           "out gre 192.0.2.7 -> 198.51.100.2", "in gre 198.51.100.2 -> 192.0.2.7",
                           "in tcp 198.51.100.9:50000 -> 192.0.2.7:1723"}) {
    auto p = analysis::parse_packet(text, perr);
    REQUIRE(p);
    CHECK_MESSAGE(sim->judge(*p, &states) == SimVerdict::Pass, text);
  }
  for (const char* text : {"out udp 192.0.2.7:40000 -> 198.51.100.2:53", "in tcp 198.51.100.2:40000 -> 192.0.2.7:22"}) {
    auto p = analysis::parse_packet(text, perr);
    REQUIRE(p);
    CHECK_MESSAGE(sim->judge(*p, &states) == SimVerdict::Block, text);
  }
  // The rule-by-rule translation other generators emit blocks PPTP on Windows.
  CHECK(ps.find("-Action Block") == std::string::npos);
}

TEST_CASE("windows: what Windows cannot say is reported, and refused under strict") {
  auto doc = load_text(
      "default block\n"
      "pass out protocol udp, to port 53\n"
      "reject in protocol tcp, to port 113 >> log\n",
      "approx.rules");
  REQUIRE(doc->ok());
  diag::Sink sink;
  CHECK(!compile("windows", doc->ir, sink).empty());
  std::string codes;
  for (const auto& d : sink.all()) codes += d.code + " ";
  CHECK(codes.find("RC550") != std::string::npos);  // stateless pass: Windows passes the replies
  CHECK(codes.find("RC551") != std::string::npos);  // reject
  CHECK(codes.find("RC552") != std::string::npos);  // log
  diag::Sink strict;
  CHECK(compile("windows", doc->ir, strict, true).empty());
  CHECK(strict.has_errors());
}

TEST_CASE("pf and windows: labels and interface names stay inert") {
  const std::string label = "it's \\\"$(rm -rf /)\\\" `whoami`; echo \\\\ \xe2\x80\x98smart\xe2\x80\x99 \t$x";
  const std::string raw = "it's \"$(rm -rf /)\" `whoami`; echo \\ \xe2\x80\x98smart\xe2\x80\x99 \t$x";
  auto doc = load_text("default block\npass in on lan-1.x_y protocol tcp, to port 22 >> state, label \"" + label +
                           "\"\n",
                       "evil.rules");
  REQUIRE(doc->ok());
  REQUIRE(doc->ir.label(doc->ir.rules.at(0)) == raw);
  diag::Sink sink;
  std::string pf = compile("pf", doc->ir, sink);
  std::string error;
  auto pf_sim = testing::PfSim::parse(pf, error);
  REQUIRE_MESSAGE(pf_sim, error, "\n", pf);
  REQUIRE(pf_sim->rules().size() == 3);
  CHECK(pf_sim->rules()[2].label == "it's __(rm -rf /)_ `whoami`; echo _ \xe2\x80\x98smart\xe2\x80\x99 __x");
  CHECK(pf_sim->rules()[2].interfaces == std::vector<std::string>{"lan-1.x_y"});

  std::string ps = compile("windows", doc->ir, sink);
  auto win = testing::WinSim::parse(ps, error);
  REQUIRE_MESSAGE(win, error, "\n", ps);
  REQUIRE(win->rules().size() == 1);
  CHECK(win->rules()[0].description == "it's \"$(rm -rf /)\" `whoami`; echo \\ \xe2\x80\x98smart\xe2\x80\x99  $x");

  // An interface name that bypassed the grammar (built through the library).
  doc->ir.interfaces[0] = "x'; Remove-Item C:\\ -Recurse; '\nGet-Process";
  diag::Sink sink2;
  std::string ps2 = compile("windows", doc->ir, sink2);
  auto win2 = testing::WinSim::parse(ps2, error);
  REQUIRE_MESSAGE(win2, error, "\n", ps2);
  CHECK(win2->rules()[0].interfaces == std::vector<std::string>{"x'; Remove-Item C:\\ -Recurse; ' Get-Process"});
  diag::Sink sink3;
  CHECK(compile("pf", doc->ir, sink3).empty());
  CHECK(sink3.all().at(0).code == "RC542");
}
