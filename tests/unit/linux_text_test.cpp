// The Linux backends' hand-written text: addresses, CIDR blocks, numbers and
// safe text must read exactly as the library functions they replace
// (inet_ntop, range_to_cidrs, std::to_string).
#include <doctest/doctest.h>

#include <random>
#include <set>
#include <sstream>

#include "../../bench/policy_gen.hpp"
#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "frontend.hpp"

namespace {

using namespace rulec;
namespace lf = backends::linux_fw;

std::string v6(ir::U128 a) {
  std::string s;
  lf::append_address(s, ir::Family::Inet6, a);
  return s;
}

TEST_CASE("IPv6 addresses are written as inet_ntop writes them") {
  std::mt19937_64 rng(7);
  std::vector<ir::U128> cases = {0, 1, ~ir::U128{0}, ir::U128{0xffff} << 32 | 0xc0000201u, 0xc0000201u,
                                 ir::U128{0x20010db8} << 96, (ir::U128{0x20010db8} << 96) | 1};
  for (int i = 0; i < 20000; ++i) {
    ir::U128 a = 0;
    for (int w = 0; w < 8; ++w) {
      auto r = rng();
      // mostly zero or small groups, so that every run of zeros is tried
      unsigned word = r % 3 == 0 ? 0 : r % 3 == 1 ? static_cast<unsigned>(r >> 8) % 16 : static_cast<unsigned>(r >> 8) & 0xffff;
      a = (a << 16) | word;
    }
    cases.push_back(a);
  }
  for (ir::U128 a : cases) {
    CAPTURE(ir::format_address(ir::Family::Inet6, a));
    CHECK(v6(a) == ir::format_address(ir::Family::Inet6, a));
  }
}

TEST_CASE("IPv4 addresses, single CIDR blocks and numbers") {
  for (std::uint32_t a : {0u, 1u, 0xc0000201u, 0xffffffffu, 0x0a000a64u}) {
    std::string s;
    lf::append_address(s, ir::Family::Inet, a);
    CHECK(s == ir::format_address(ir::Family::Inet, a));
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; ++i) {
    ir::U128 lo = rng() % 4096, hi = lo + rng() % 300;
    auto cidrs = lf::range_to_cidrs(lo, hi, ir::Family::Inet);
    auto one = lf::single_cidr(lo, hi, ir::Family::Inet);
    REQUIRE(one.has_value() == (cidrs.size() == 1));
    if (one) {
      CHECK(one->base == cidrs[0].base);
      CHECK(one->prefix == cidrs[0].prefix);
    }
  }
  for (int i = 0; i < 5000; ++i) {
    ir::U128 lo = rng() % 4096, hi = lo + rng() % 300;
    for (ir::Family f : {ir::Family::Inet, ir::Family::Inet6}) {
      auto blocks = backends::address_blocks(f, {{lo, hi}});
      auto one = backends::single_block(f, {lo, hi});
      REQUIRE(one.has_value() == (blocks.size() == 1));
      if (one) CHECK(backends::format_block(f, *one) == backends::format_block(f, blocks[0]));
    }
  }
  CHECK(backends::single_block(ir::Family::Inet, {0, 0xffffffffu})->prefix == 0);
  CHECK(lf::single_cidr(0, 0xffffffffu, ir::Family::Inet)->prefix == 0);
  CHECK(lf::single_cidr(0, 0x7fffffffu, ir::Family::Inet)->prefix == 1);
  CHECK(lf::single_cidr(0, ~ir::U128{0}, ir::Family::Inet6)->prefix == 0);
  for (std::uint64_t v : {0ull, 7ull, 10ull, 65535ull, 18446744073709551615ull}) {
    std::string s;
    lf::append_number(s, v);
    CHECK(s == std::to_string(v));
  }
  CHECK(lf::safe_text("a\"b\\c d\n", 100) == "a_b_c d_");
  CHECK(backends::comment_text("a\nb\x7f") == "a?b?");
  CHECK(lf::safe_text("abcdef", 3) == "abc");
}

TEST_CASE("LineFinder finds what the source map finds, in any order") {
  diag::SourceMap sources;
  std::string text;
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) text += std::string(rng() % 90, 'x') + (i % 7 == 0 ? "\r\n" : "\n");
  sources.add("a.rules", text);
  sources.add("b.rules", "pass\nblock\n");
  backends::LineFinder finder;
  std::vector<diag::Location> order;
  for (std::uint32_t at = 0; at < text.size(); at += 37) order.push_back({0, at, at});
  for (std::uint32_t at = static_cast<std::uint32_t>(text.size()) + 5; at > 40; at -= 41) order.push_back({0, at, at});
  for (int i = 0; i < 2000; ++i) {
    auto at = static_cast<std::uint32_t>(rng() % (text.size() + 10));
    order.push_back({static_cast<std::uint32_t>(i % 50 == 0), i % 50 == 0 ? at % 11 : at, at});
  }
  for (const diag::Location& loc : order) {
    CAPTURE(loc.begin);
    diag::LineCol want = sources.file(loc.file).line_col(loc.begin);
    diag::LineCol got = finder.find(sources, loc);
    CHECK(got.line == want.line);
    CHECK(got.column == want.column);
  }
}

/// A random normal set of `n` or fewer ranges within [lo, hi].
template <typename T>
ir::FieldSet<T> random_set(std::mt19937& rng, unsigned n, std::uint64_t lo, std::uint64_t hi, unsigned width) {
  ir::FieldSet<T> set;
  for (unsigned k = rng() % (n + 1); k > 0; --k) {
    std::uint64_t a = lo + rng() % (hi - lo + 1), b = std::min<std::uint64_t>(hi, a + rng() % (width + 1));
    set.push_back({static_cast<T>(a), static_cast<T>(b)});
  }
  ir::normalise(set);
  return set;
}

/// IR rules of every shape the backends meet, and some lowering never
/// makes (several interfaces, all but a few interfaces, ports without a
/// protocol): long lists, ports with and without 0, ICMP types.
ir::Policy random_policy(std::uint32_t seed, std::size_t rules) {
  std::mt19937 rng(seed);
  ir::Policy p;
  p.interfaces = {"lan", "wan", "dmz", "eth0.100"};
  const auto n = static_cast<std::uint32_t>(p.interfaces.size());
  for (std::size_t k = 0; k < rules; ++k) {
    ir::Rule r;
    r.action = static_cast<ir::Action>(rng() % 3);
    r.state = rng() % 3 == 0;
    r.done = rng() % 3 == 0;
    r.log = rng() % 3 == 0;
    if (rng() % 4 == 0) p.set_label(r, "label " + std::to_string(k));
    ir::Match& m = r.match;
    m.directions = random_set<std::uint8_t>(rng, 1, 0, 1, 0);
    m.interfaces = random_set<std::uint32_t>(rng, 2, 0, n, 2);
    m.protocols = random_set<std::uint8_t>(rng, 3, 1, 255, rng() % 4 == 0 ? 60 : 0);
    if (rng() % 3 == 0) m.protocols = {{6, 6}, {17, 17}, {132, 132}};
    if (rng() % 6 == 0) m.protocols = {{1, 1}, {58, 58}};
    m.sport = random_set<std::uint16_t>(rng, rng() % 5 == 0 ? 30 : 2, 0, 65535, rng() % 2 ? 0 : 500);
    m.dport = random_set<std::uint16_t>(rng, rng() % 5 == 0 ? 30 : 3, 0, 65535, rng() % 2 ? 0 : 500);
    if (rng() % 3 == 0) m.icmp_types = random_set<std::uint8_t>(rng, 3, 0, 20, 2);
    if (rng() % 2 == 0) {
      bool v4 = rng() % 2 == 0;
      m.families = {{v4 ? std::uint8_t{0} : std::uint8_t{1}, v4 ? std::uint8_t{0} : std::uint8_t{1}}};
      for (auto* set : {&m.src, &m.dst})
        for (unsigned j = rng() % 4; j > 0; --j) {
          ir::U128 base = v4 ? ir::U128{0xc0000200u + rng() % 4096} : (ir::U128{0x20010db8} << 96) + rng() % 4096;
          set->push_back({base, base + rng() % (rng() % 2 ? 1 : 300)});
        }
      ir::normalise(m.src);
      ir::normalise(m.dst);
    }
    r.source_rule = static_cast<std::uint32_t>(k);
    p.rules.push_back(std::move(r));
  }
  p.defaults[0].action = ir::Action::Block;
  return p;
}

TEST_CASE("alternative views are alternatives() without the copies") {
  ir::Policy p = random_policy(5, 4000);
  lf::AlternativeViews views;
  for (const ir::Rule& r : p.rules) {
    auto want = lf::alternatives(r.match);
    auto got = views.of(r.match);
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      CHECK(*got[k].protocols == want[k].protocols);
      CHECK(got[k].negate_protocols == want[k].negate_protocols);
      CHECK(*got[k].sport == want[k].sport);
      CHECK(*got[k].dport == want[k].dport);
      CHECK(*got[k].icmp_types == want[k].icmp_types);
    }
  }
}

/// True when every chain of `text`'s filter table that a rule is added to
/// or jumps to is declared (`:name`) before the first rule (iptables-restore
/// refuses a rule for a chain it does not know).
bool chains_declared_first(const std::string& text) {
  std::set<std::string> declared = {"INPUT",  "FORWARD", "OUTPUT", "ACCEPT",   "DROP",
                                    "RETURN", "REJECT",  "LOG",    "CONNMARK", "CT"};
  bool rules_seen = false, filter = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line == "*filter") filter = true;
    if (!filter || line.empty()) continue;
    if (line[0] == ':') {
      if (rules_seen) return false;  // declared after a rule
      declared.insert(line.substr(1, line.find(' ') - 1));
      continue;
    }
    if (line.rfind("-A ", 0) != 0) continue;
    rules_seen = true;
    std::istringstream words(line);
    std::string word, prev;
    while (words >> word) {
      if ((prev == "-A" || prev == "-j" || prev == "-g") && !declared.count(word)) return false;
      prev = word;
    }
  }
  return rules_seen;
}

TEST_CASE("iptables declares every chain before the rules, with one thread or two") {
  // Helper chains, negated interface lists (RETURN chains), long multiport
  // lists and log chains are declared in a part of their own, in front of
  // the rules, once they are written.
  const std::size_t saved = lf::two_threads_from;
  bool helpers = false, returns = false;
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    ir::Policy p = random_policy(seed, 1500);
    for (const char* target : {"iptables", "ip6tables"}) {
      CAPTURE(seed);
      CAPTURE(target);
      backends::EmitOptions options;
      std::string one, two;
      diag::Sink sink;
      lf::two_threads_from = SIZE_MAX;
      REQUIRE(backends::compile(*backends::find(target), p, options, one, sink));
      lf::two_threads_from = 1;
      REQUIRE(backends::compile(*backends::find(target), p, options, two, sink));
      CHECK(one == two);
      CHECK(chains_declared_first(one));
      helpers = helpers || one.find(":rulec-r") != std::string::npos;
      returns = returns || one.find("-j RETURN") != std::string::npos;
    }
  }
  lf::two_threads_from = saved;
  CHECK(helpers);
  CHECK(returns);
}

TEST_CASE("a large iptables output, its pages mapped ahead and written in parts, reads as with two threads") {
  // From 16,384 IR rules the writer's texts are mapped ahead by another
  // thread; one thread writes a part a chain, two threads two parts a chain.
  auto doc = load_text(bench::generate_policy(20000, 3), "generated.rules");
  REQUIRE(doc->ok());
  REQUIRE(doc->ir.rules.size() >= 16384);
  backends::EmitOptions options;
  options.sources = &doc->sources;
  const std::size_t saved = lf::two_threads_from;
  for (const char* target : {"iptables", "ip6tables"}) {
    CAPTURE(target);
    std::string one, two;
    diag::Sink sink;
    lf::two_threads_from = SIZE_MAX;
    REQUIRE(backends::compile(*backends::find(target), doc->ir, options, one, sink));
    lf::two_threads_from = 1;
    REQUIRE(backends::compile(*backends::find(target), doc->ir, options, two, sink));
    CHECK(one.size() > 2000000);
    CHECK(one == two);
    CHECK(one.compare(one.size() - 7, 7, "COMMIT\n") == 0);
  }
  lf::two_threads_from = saved;
}

TEST_CASE("two threads write byte for byte what one thread writes, with the same diagnostics") {
  // The look at every rule splits too (linux_fw::look_in_halves): the warnings
  // of both halves, in order, are one thread's; --strict and an error in
  // the second half refuse the policy either way.
  std::string broken = bench::generate_policy(3000, 3);
  broken += "pass in on an_interface_name_too_long protocol tcp\n";  // RC510 in the last rule
  for (int run = 0; run < 4; ++run) {
    auto doc = load_text(run < 2 ? bench::generate_policy(3000, run + 1) : broken, "generated.rules");
    REQUIRE(doc->ok());
    for (const char* target : {"nft", "iptables", "ip6tables"}) {
      CAPTURE(target);
      CAPTURE(run);
      backends::EmitOptions options;
      options.sources = &doc->sources;
      options.strict = run == 3;
      std::string one, two;
      diag::Sink sink_one, sink_two;
      const std::size_t saved = lf::two_threads_from;
      lf::two_threads_from = SIZE_MAX;
      const bool ok_one = backends::compile(*backends::find(target), doc->ir, options, one, sink_one);
      lf::two_threads_from = 1;
      const bool ok_two = backends::compile(*backends::find(target), doc->ir, options, two, sink_two);
      lf::two_threads_from = saved;
      CHECK(ok_one == (run < 2));
      CHECK(ok_one == ok_two);
      if (ok_one) CHECK(one.size() > 100000);
      CHECK(one == two);
      CHECK(sink_one.all().size() > 10);
      CHECK(diag::render(sink_one.all(), doc->sources, diag::Format::Json) ==
            diag::render(sink_two.all(), doc->sources, diag::Format::Json));
    }
  }
}

TEST_CASE("a backend's output in parts is its text, part after part") {
  backends::Output none;
  CHECK(std::move(none).text().empty());
  backends::Output some;
  some.add("ab");
  some.add("");
  some.add("cde");
  CHECK(some.size() == 5);
  CHECK(some.parts().size() == 2);
  CHECK(std::move(some).text() == "abcde");
  CHECK(some.empty());

  auto doc = load_text(bench::generate_policy(3000, 4), "generated.rules");
  REQUIRE(doc->ok());
  backends::EmitOptions options;
  options.sources = &doc->sources;
  for (const char* target : {"nft", "iptables", "ip6tables", "pf"}) {
    CAPTURE(target);
    for (std::size_t threads_from : {std::size_t{1}, SIZE_MAX}) {
      const std::size_t saved = lf::two_threads_from;
      lf::two_threads_from = threads_from;
      backends::Output parts;
      std::string whole;
      diag::Sink sink;
      REQUIRE(backends::compile(*backends::find(target), doc->ir, options, parts, sink));
      REQUIRE(backends::compile(*backends::find(target), doc->ir, options, whole, sink));
      lf::two_threads_from = saved;
      std::string joined;
      for (const std::string& part : parts.parts()) joined += part;
      CHECK(joined.size() == parts.size());
      CHECK(joined == whole);
      if (std::string_view(target).find("tables") != std::string_view::npos)
        CHECK(parts.parts().size() >= 5);  // declarations, the chains' rules, the fixed chains
    }
  }
}

}  // namespace
