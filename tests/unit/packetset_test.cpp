// Packet sets: algebra against membership of concrete packets.
#include <doctest/doctest.h>

#include "analysis/evaluator.hpp"
#include "analysis/packetset.hpp"
#include "frontend.hpp"

using namespace rulec;
using analysis::Packet;
using analysis::PacketSet;

namespace {

Packet packet(const std::string& text) {
  std::string err;
  auto p = analysis::parse_packet(text, err);
  REQUIRE_MESSAGE(p, err);
  return *p;
}

std::unique_ptr<Document> policy(const std::string& text) {
  auto doc = load_text(text);
  REQUIRE(doc->ok());
  return doc;
}

}  // namespace

TEST_CASE("packet sets: a rule's set holds exactly the packets the evaluator matches") {
  auto doc = policy(
      "default block\n"
      "pass out on wan protocol tcp, to 198.51.100.0/24 port { 80, 443 }\n"
      "block in from 2001:db8::/32\n"
      "pass protocol icmp, icmp-type echo-request\n");
  const ir::Policy& ir = doc->ir;
  const char* packets[] = {
      "out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:443", "out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:444",
      "out on lan tcp 192.0.2.7:40000 -> 198.51.100.2:80",  "in udp [2001:db8::1]:53 -> [2001:db9::1]:53",
      "in udp [2001:db9::1]:53 -> [2001:db8::1]:53",        "in icmp 192.0.2.1 -> 192.0.2.2 type echo-request",
      "in icmp 192.0.2.1 -> 192.0.2.2 type echo-reply",     "out gre 192.0.2.1 -> 198.51.100.2",
  };
  for (const ir::Rule& r : ir.rules) {
    PacketSet s = PacketSet::of(r.match, ir);
    for (const char* text : packets) {
      Packet p = packet(text);
      CHECK_MESSAGE(s.contains(p, ir) == analysis::matches(r.match, p, analysis::interface_index(ir, p)), text);
    }
  }
}

TEST_CASE("packet sets: subtract, unite, intersect and witness agree") {
  auto doc = policy(
      "pass protocol tcp\n"
      "pass protocol tcp, to port 22\n"
      "pass in protocol tcp, from 192.0.2.0/24\n");
  const ir::Policy& ir = doc->ir;
  PacketSet tcp = PacketSet::of(ir.rules[0].match, ir);
  PacketSet ssh = PacketSet::of(ir.rules[1].match, ir);
  PacketSet lan = PacketSet::of(ir.rules[2].match, ir);
  CHECK(tcp.contains(ssh));
  CHECK_FALSE(ssh.contains(tcp));
  PacketSet rest = tcp - ssh - lan;
  CHECK_FALSE(rest.empty());
  CHECK_FALSE(rest.intersects(ssh));
  CHECK_FALSE(rest.intersects(lan));
  CHECK((rest | ssh | lan).contains(tcp));
  CHECK(tcp.contains(rest | ssh | lan));
  CHECK((ssh & lan).contains(packet("in tcp 192.0.2.9:1000 -> 203.0.113.1:22"), ir));
  CHECK_FALSE((ssh & lan).contains(packet("out tcp 192.0.2.9:1000 -> 203.0.113.1:22"), ir));
  auto w = (ssh - lan).witness(ir);
  REQUIRE(w);
  CHECK(analysis::format_packet(*w) == "out tcp 192.0.2.7:40000 -> 198.51.100.2:22");
  CHECK((tcp - tcp).empty());
  CHECK_FALSE((tcp - tcp).witness(ir));
  // The union of disjoint pieces covers the universe exactly once.
  PacketSet all = PacketSet::all(ir);
  CHECK(((all - tcp) | tcp).contains(all));
  CHECK_FALSE((all - tcp).intersects(tcp));
  // take_away: subtract, and whether anything was taken; the boxes it
  // leaves are those of subtract, in the same order.
  for (const PacketSet* from : {&all, &tcp, &rest}) {
    for (const PacketSet* what : {&tcp, &ssh, &lan, &rest}) {
      PacketSet left = *from;
      CHECK(left.take_away(*what) == from->intersects(*what));
      PacketSet cut = *from - *what;
      REQUIRE(left.boxes().size() == cut.boxes().size());
      for (std::size_t i = 0; i < cut.boxes().size(); ++i)
        for (std::size_t f = 0; f < analysis::kFieldCount; ++f) {
          auto x = left.boxes()[i][static_cast<analysis::Field>(f)], y = cut.boxes()[i][static_cast<analysis::Field>(f)];
          CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end(),
                           [](const analysis::Interval& a, const analysis::Interval& b) { return a.lo == b.lo && a.hi == b.hi; }));
        }
      CHECK(left.contains(cut));
      CHECK(cut.contains(left));
      CHECK_FALSE(left.take_away(*what));  // nothing left to take
    }
  }
}

TEST_CASE("packet sets: replies swap ends and turn echo-requests into echo-replies") {
  auto doc = policy(
      "pass out protocol tcp, from 192.0.2.0/24 port 40000-40010, to 198.51.100.2 port 1723\n"
      "pass out protocol icmp, icmp-type { echo-request, 3 }\n");
  const ir::Policy& ir = doc->ir;
  PacketSet tcp = PacketSet::of(ir.rules[0].match, ir).replies();
  CHECK(tcp.contains(packet("in tcp 198.51.100.2:1723 -> 192.0.2.9:40005"), ir));
  CHECK_FALSE(tcp.contains(packet("out tcp 198.51.100.2:1723 -> 192.0.2.9:40005"), ir));
  CHECK_FALSE(tcp.contains(packet("in tcp 198.51.100.2:1724 -> 192.0.2.9:40005"), ir));
  PacketSet icmp = PacketSet::of(ir.rules[1].match, ir).replies();
  CHECK(icmp.contains(packet("in icmp 198.51.100.2 -> 192.0.2.9 type echo-reply"), ir));
  CHECK(icmp.contains(packet("in icmp 198.51.100.2 -> 192.0.2.9 type 3"), ir));
  CHECK_FALSE(icmp.contains(packet("in icmp 198.51.100.2 -> 192.0.2.9 type echo-request"), ir));
}

TEST_CASE("packet sets: in_universe agrees with the universe set on points at its edges") {
  auto doc = policy("pass on lan\npass on wan\n");
  const ir::Policy& ir = doc->ir;
  PacketSet all = PacketSet::all(ir);
  // Values just inside and just outside each convention: directions,
  // interfaces (named ones and the one more), families, protocols with and
  // without ports, ICMP per family, IPv4's address range, ports, ICMP types.
  const ir::U128 v4max = 0xffffffffu;
  const std::vector<ir::U128> fields[analysis::kFieldCount] = {
      {0, 1, 2},
      {0, 2, 3},
      {0, 1, 2},
      {0, 1, 6, 17, 47, 58, 132, 255, 256},
      {0, v4max, v4max + 1},
      {7, v4max + 1},
      {0, 40000, 65535, 65536},
      {0, 443, 65535, 65536},
      {0, 8, 255, 256},
  };
  analysis::Point v{};
  std::size_t checked = 0, inside = 0;
  auto walk = [&](auto&& self, std::size_t f) -> void {
    if (f == analysis::kFieldCount) {
      bool want = all.holds(v);
      CHECK(analysis::in_universe(v, ir) == want);
      ++checked;
      inside += want;
      return;
    }
    for (ir::U128 x : fields[f]) {
      v[f] = x;
      self(self, f + 1);
    }
  };
  walk(walk, 0);
  CHECK(checked > 50000);
  CHECK(inside > 100);  // both answers occur
  CHECK(inside < checked);
}

TEST_CASE("packet sets: values::overlap agrees with a value-by-value look, short lists against long ones") {
  // Lists of intervals over 0..199, random but fixed; a long list against a
  // short one takes overlap()'s look-up path, lists of like length its walk.
  std::uint64_t state = 12345;
  auto next = [&](std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  auto make = [&](std::size_t pieces) {
    std::vector<analysis::Interval> out;
    ir::U128 at = next(6);
    for (std::size_t i = 0; i < pieces && at < 200; ++i) {
      ir::U128 hi = std::min<ir::U128>(at + next(3), 199);
      out.push_back({at, hi});
      at = hi + 2 + next(8);
    }
    return out;
  };
  auto holds = [](const std::vector<analysis::Interval>& v, ir::U128 x) {
    return std::any_of(v.begin(), v.end(), [&](const analysis::Interval& r) { return r.lo <= x && x <= r.hi; });
  };
  int lopsided = 0, met = 0;
  for (int round = 0; round < 3000; ++round) {
    auto a = make(1 + next(3)), b = make(1 + next(60));
    if (a.empty() || b.empty()) continue;
    bool expect = false;
    for (ir::U128 x = 0; x < 200 && !expect; ++x) expect = holds(a, x) && holds(b, x);
    CHECK(analysis::values::overlap(a, b) == expect);
    CHECK(analysis::values::overlap(b, a) == expect);
    lopsided += b.size() > 8 * a.size();
    met += expect;
  }
  CHECK(lopsided > 500);  // both paths were taken, with both answers
  CHECK(met > 500);
  CHECK(met < 2500);
}

TEST_CASE("packet sets: contains, for sets of several boxes, box by box and across boxes") {
  auto doc = policy(
      "pass in\n"
      "pass in protocol tcp, to port 22\n"
      "pass in protocol { tcp, udp }, to port 22\n"
      "pass in protocol tcp, to port 20-21\n"
      "pass in protocol tcp, to port 23-24\n"
      "pass out protocol tcp, to port 22\n");
  const ir::Policy& ir = doc->ir;
  auto set = [&](std::size_t i) { return PacketSet::of(ir.rules[i].match, ir); };
  PacketSet in = set(0), ssh = set(1), ssh_both = set(2), out_ssh = set(5);
  REQUIRE(in.boxes().size() > 1);  // clipped to the universe: several boxes
  CHECK(in.contains(ssh));
  CHECK(in.contains(ssh_both));
  CHECK_FALSE(in.contains(out_ssh));
  CHECK_FALSE(ssh.contains(ssh_both));
  // 20-24 lies in no one box of the three, but in their union.
  PacketSet pieces = set(3) | ssh | set(4);
  REQUIRE(pieces.boxes().size() >= 3);
  ir::Match span = ir.rules[1].match;
  span.dport = {{20, 24}};
  PacketSet wide = PacketSet::of(span, ir);
  CHECK(pieces.contains(wide));
  span.dport = {{20, 25}};
  CHECK_FALSE(pieces.contains(PacketSet::of(span, ir)));
  // Both corners inside, the middle not: only the box-by-box test and the
  // subtraction can tell, and a box that merely meets another must not count.
  PacketSet ends = set(3) | set(4);  // ports 20-21 and 23-24: 22 is missing
  span.dport = {{20, 24}};
  CHECK_FALSE(ends.contains(PacketSet::of(span, ir)));
  span.dport = {{23, 24}};
  CHECK(ends.contains(PacketSet::of(span, ir)));
}
