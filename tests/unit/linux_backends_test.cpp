// Semantic tests of the Linux backends that do not depend on the text:
// first-match order against the evaluator, state bits, protocol splitting,
// CIDR cover, escaping, and the errors the targets raise.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "analysis/evaluator.hpp"
#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "frontend.hpp"

namespace {

using namespace rulec;
namespace lf = backends::linux_fw;

std::unique_ptr<Document> policy(const std::string& text) {
  auto doc = load_text(text, "test.rules");
  REQUIRE(doc->ok());
  return doc;
}

/// The first rule in first-match order that matches: what the kernel decides.
std::int64_t kernel_rule(const ir::Policy& p, const analysis::Packet& pkt) {
  std::uint32_t iface = pkt.interface.empty() ? static_cast<std::uint32_t>(p.interfaces.size())
                                              : p.interface_index(pkt.interface);
  for (std::uint32_t i : lf::first_match_order(p, pkt.direction))
    if (analysis::matches(p.rules[i].match, pkt, iface)) return i;
  return -1;
}

std::string compile(const Document& doc, const char* target, diag::Sink& sink, bool strict = false) {
  backends::EmitOptions options;
  options.sources = &doc.sources;
  options.strict = strict;
  std::string out;
  backends::compile(*backends::find(target), doc.ir, options, out, sink);
  return out;
}

bool has_code(const diag::Sink& sink, const char* code) {
  for (const auto& d : sink.all())
    if (d.code == code) return true;
  return false;
}

}  // namespace

TEST_CASE("linux: first-match order decides as the evaluator's last match with done") {
  auto doc = policy(
      "block in\npass in protocol tcp\nblock in protocol tcp, to port 23 >> done\npass in protocol tcp, to port 22\n"
      "reject in protocol tcp, to port 22 >> done\npass out on wan protocol udp\nblock out on lan\n"
      "pass protocol { tcp, udp }, to port 1000-2000 >> done\nblock from 192.0.2.0/25\n");
  std::mt19937 rng(7);
  const char* ifaces[] = {"", "lan", "wan", "other"};
  const std::uint8_t protos[] = {6, 17, 47, 1};
  for (int n = 0; n < 5000; ++n) {
    analysis::Packet p;
    p.direction = rng() % 2 ? ir::Direction::In : ir::Direction::Out;
    p.interface = ifaces[rng() % 4];
    p.protocol = protos[rng() % 4];
    p.src = 0xC0000200u + rng() % 256;  // 192.0.2.x
    p.dst = 0xC6336400u + rng() % 256;  // 198.51.100.x
    if (ir::proto::has_ports(p.protocol)) {
      p.sport = static_cast<std::uint16_t>(rng() % 3000);
      p.dport = static_cast<std::uint16_t>(rng() % 3000);
    }
    auto v = analysis::evaluate(doc->ir, p);
    INFO(analysis::format_packet(p));
    CHECK(kernel_rule(doc->ir, p) == v.rule);
  }
}

TEST_CASE("linux: state bits are the evaluator's same-direction or reversed-opposite-direction rule") {
  using ir::Direction;
  // A state made by the in-judgement for a packet in conntrack's original direction
  // passes later in-judged packets in that direction and out-judged replies.
  CHECK((lf::state_match_bits(Direction::In, true) & lf::state_bit(Direction::In, true)) != 0);
  CHECK((lf::state_match_bits(Direction::Out, false) & lf::state_bit(Direction::In, true)) != 0);
  CHECK((lf::state_match_bits(Direction::Out, true) & lf::state_bit(Direction::In, true)) == 0);
  CHECK((lf::state_match_bits(Direction::In, false) & lf::state_bit(Direction::In, true)) == 0);
  for (auto d : {Direction::In, Direction::Out})
    for (bool o : {true, false}) CHECK((lf::state_match_bits(d, o) & ~lf::kStateMask) == 0);
}

TEST_CASE("linux: ports and ICMP types split by protocol class") {
  ir::Match m;
  m.protocols = {{6, 6}, {47, 47}};
  m.dport = {{0, 0}, {80, 80}};
  auto alts = lf::alternatives(m);
  REQUIRE(alts.size() == 2);  // tcp with the ports; GRE has port 0, which the set contains
  CHECK(alts[0].dport.size() == 2);
  CHECK(alts[1].protocols == ir::FieldSet<std::uint8_t>{{47, 47}});
  CHECK(alts[1].dport.empty());
  m.dport = {{80, 80}};
  CHECK(lf::alternatives(m).size() == 1);
}

TEST_CASE("linux: CIDR cover is exact") {
  std::mt19937 rng(3);
  for (int n = 0; n < 500; ++n) {
    ir::U128 lo = rng(), hi = lo + rng() % 100000;
    if (hi > 0xffffffffu) hi = 0xffffffffu;
    ir::U128 next = lo;
    for (const auto& c : lf::range_to_cidrs(lo, hi, ir::Family::Inet)) {
      ir::U128 size = ir::U128{1} << (32 - c.prefix);
      CHECK(c.base == next);
      CHECK((c.base & (size - 1)) == 0);
      next = c.base + size;
    }
    CHECK(next == hi + 1);
  }
  CHECK(lf::range_to_cidrs(0, ~ir::U128{0}, ir::Family::Inet6).size() == 1);
}

TEST_CASE("linux: text copied into outputs cannot carry quotes, backslashes or line ends") {
  std::string s = lf::safe_text("a\"b\\c\nd'e;f`g$h\x01", 100);
  CHECK(s.find_first_of("\"\\\n'`$;\x01") == std::string::npos);
  CHECK(lf::safe_text(std::string(300, 'x'), 64).size() == 64);
  CHECK(lf::valid_interface_name("eth0.100"));
  CHECK_FALSE(lf::valid_interface_name("a\"b"));
  CHECK_FALSE(lf::valid_interface_name("sixteen-chars-xx"));
}

TEST_CASE("linux: hostile labels never reach the output unescaped") {
  auto doc = policy("pass in protocol tcp >> label \"x\\\" ; flush ruleset\", log\n");
  for (const char* t : {"nft", "iptables", "ip6tables"}) {
    diag::Sink sink;
    std::string out = compile(*doc, t, sink);
    CHECK(out.find("x\" ;") == std::string::npos);
    CHECK(out.find("x_ _ flush ruleset") != std::string::npos);
    CHECK(out.find("\\") == std::string::npos);
    CHECK(has_code(sink, "RC511"));
  }
}

TEST_CASE("linux: refusals name the rule") {
  diag::Sink sink;
  CHECK(compile(*policy("pass in on averyverylongname0\n"), "nft", sink).empty());
  CHECK(has_code(sink, "RC510"));
  diag::Sink sink2;
  CHECK(compile(*policy("pass protocol 0\n"), "iptables", sink2).empty());
  CHECK(has_code(sink2, "RC514"));
  diag::Sink sink3;
  CHECK_FALSE(compile(*policy("pass protocol 0\n"), "nft", sink3).empty());
  diag::Sink sink4;
  CHECK(compile(*policy("pass out protocol gre >> state\n"), "nft", sink4, true).empty());
  CHECK(has_code(sink4, "RC513"));
}

TEST_CASE("linux: each finding is reported once per source rule, however many IR rules it lowers to") {
  // two families: each rule lowers to two IR rules; the third rule has none of the findings
  auto doc = policy("pass protocol { icmp, icmpv6, gre }, from { 192.0.2.1, 2001:db8::1 } >> state, label \"a;b\"\n"
                    "pass protocol { icmp, icmpv6, gre }, to { 192.0.2.2, 2001:db8::2 } >> state, label \"c;d\"\n"
                    "pass protocol tcp, to { 192.0.2.3, 2001:db8::3 } >> state, label \"ok\"\n");
  REQUIRE(doc->ir.rules.size() == 6);
  for (const char* t : {"nft", "iptables", "ip6tables"}) {
    for (std::size_t threads : {SIZE_MAX, std::size_t{2}}) {  // one look, or a half each
      INFO(t << " from " << threads);
      const std::size_t saved = lf::two_threads_from;
      lf::two_threads_from = threads;
      diag::Sink sink;
      compile(*doc, t, sink);
      lf::two_threads_from = saved;
      std::map<std::string, std::vector<std::uint32_t>> lines;  // by code: the lines reported
      for (const auto& d : sink.all())
        lines[d.code].push_back(doc->sources.file(d.loc.file).line_col(d.loc.begin).line);
      const std::vector<std::uint32_t> both{1, 2};
      CHECK(lines["RC511"] == both);
      CHECK(lines["RC512"] == both);
      CHECK(lines["RC513"] == both);
    }
  }
}

TEST_CASE("linux: the in-state the kernel cannot keep is reported once") {
  diag::Sink sink;
  compile(*policy("default block out\npass in on lan >> state\npass in on wan >> state\n"), "nft", sink);
  int n = 0;
  for (const auto& d : sink.all()) n += d.code == "RC515";
  CHECK(n == 1);
  diag::Sink quiet;
  compile(*policy("pass in on lan >> state\npass out\n"), "nft", quiet);
  CHECK_FALSE(has_code(quiet, "RC515"));
}

TEST_CASE("linux: reloading replaces the table; families go to their own iptables target") {
  diag::Sink sink;
  auto doc = policy("pass in from 192.0.2.1\npass in from 2001:db8::1\n");
  std::string nft = compile(*doc, "nft", sink);
  CHECK(nft.find("table inet rulec {}\ndelete table inet rulec\ntable inet rulec {") != std::string::npos);
  std::string v4 = compile(*doc, "iptables", sink), v6 = compile(*doc, "ip6tables", sink);
  CHECK(v4.find("192.0.2.1") != std::string::npos);
  CHECK(v4.find("2001:db8::1") == std::string::npos);
  CHECK(v6.find("2001:db8::1") != std::string::npos);
  CHECK(v6.find("192.0.2.1") == std::string::npos);
}
