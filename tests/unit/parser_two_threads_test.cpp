// A large root file is parsed on two threads (syntax::two_threads_from): the
// tree, to the last symbol id and byte offset, and the diagnostics must be
// exactly what one thread gives. The threshold is lowered here so that small
// inputs are split.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../../bench/policy_gen.hpp"
#include "backends/backend.hpp"
#include "frontend.hpp"

namespace {

using namespace rulec;

/// Every field of every array of a tree, and its symbols in id order.
std::string raw(const ast::Policy& p) {
  std::string out;
  auto add = [&out](std::initializer_list<std::uint64_t> fields) {
    for (std::uint64_t f : fields) out += std::to_string(f) + ",";
    out += "\n";
  };
  for (std::uint32_t id = 0; id < p.symbols.size(); ++id) out += "sym " + p.symbols.str(id) + "\n";
  for (const ast::Statement& s : p.statements)
    add({std::uint64_t(s.kind), std::uint64_t(s.action), std::uint64_t(s.direction), s.options, s.file, s.begin, s.end,
         s.line, s.column, s.name, s.name_begin, s.iface, s.iface_begin, s.label, s.first_clause, s.clause_count, s.first_value,
         s.value_count, s.option_at[0], s.option_at[1], s.option_at[2], s.option_at[3], s.extra});
  for (const ast::Clause& c : p.clauses)
    add({std::uint64_t(c.kind), c.begin, c.end, c.first_value, c.value_count, c.first_port, c.port_count});
  for (const ast::Value& v : p.values)
    add({std::uint64_t(v.kind), v.family, v.prefix, v.has_prefix, v.lo, v.hi, v.sym, v.begin, v.end});
  for (const auto& a : p.addresses) out += std::string(a.begin(), a.end()) + "\n";
  for (const ast::Requirement& r : p.requirements)
    add({r.role, r.via_in, r.via_out, r.on, r.peer_value, r.port_value});
  for (const ast::Comment& c : p.comments) add({c.file, c.begin, c.end, c.own_line});
  for (const auto& [file, at] : p.blank_lines) add({file, at});
  add({p.includes});
  for (std::uint32_t d : p.definitions) add({d});
  return out;
}

std::string diagnostics(const diag::Sink& sink) {
  std::string out;
  for (const diag::Diagnostic& d : sink.all())
    out += d.code + " " + d.message + " " + std::to_string(d.loc.file) + ":" + std::to_string(d.loc.begin) + "-" +
           std::to_string(d.loc.end) + "\n";
  return out;
}

struct Parsed {
  std::string dump, raw, diagnostics;
};

/// Parses `text` as a root file, split (from `threshold` bytes) or not.
Parsed parse(const std::string& text, std::size_t threshold) {
  const std::size_t saved = syntax::two_threads_from;
  syntax::two_threads_from = threshold;
  ast::Policy p;
  diag::SourceMap sources;
  diag::Sink sink;
  auto id = sources.add("t.rules", text);
  syntax::parse_text(p, sources, id, sink);
  syntax::two_threads_from = saved;
  return {ast::dump(p, id), raw(p), diagnostics(sink)};
}

/// Parses `text` on one thread and on two; true when the two threads were used (no fallback).
bool same_both_ways(const std::string& text) {
  Parsed one = parse(text, SIZE_MAX);
  const auto joined = syntax::two_thread_parses.load();
  Parsed two = parse(text, 1);
  CHECK(two.dump == one.dump);
  CHECK(two.raw == one.raw);
  CHECK(two.diagnostics == one.diagnostics);
  return syntax::two_thread_parses.load() > joined;
}

std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

/// A block of every kind of statement, with names of its own (`n`), comments and blank lines.
std::string definitions(int n) {
  std::string i = std::to_string(n);
  return "# block " + i + "\n\nservice svc" + i + " = { tcp 10" + i + ", udp port { 5" + i + ", 6" + i +
         " }, gre }\n"
         "service s" + i + " = { tcp 8" + i + " }   # trailing\n"
         "vpn v" + i + " = {\n  udp 500,   # ike\n  esp,\n}\n"
         "require vpn v" + i + " client via lan" + i + ":wan" + i + " on if" + i + " to 203.0.113." + i +
         " port 1723\n"
         "net" + i + " = {\n\t192.0.2." + i + ",\n  2001:db8::" + i + ",  $svc" + i + "\n}\n"
         "include \"part" + i + ".rules\"\n"
         "   \t\n"
         "pass in on lan" + i + ", from $net" + i + ", to any port { 80, " + i + " } >> label \"r " + i + "\"\n";
}

}  // namespace

TEST_CASE("parser: two threads give one thread's tree for generated policies") {
  int joined = 0, runs = 0;
  for (std::size_t rules : {40, 333, 3000})
    for (std::uint64_t seed : {1, 2, 3}) {
      CAPTURE(rules);
      CAPTURE(seed);
      std::string text = bench::generate_policy(rules, seed);
      joined += same_both_ways(text);
      joined += same_both_ways(crlf(text));
      runs += 2;
    }
  CHECK(joined == runs);  // all split: no generated policy has an error
}

TEST_CASE("parser: two threads give one thread's tree for every statement, comment and blank line") {
  std::string text;
  for (int i = 0; i < 60; ++i) text += definitions(i);
  CHECK(same_both_ways(text));
  CHECK(same_both_ways(crlf(text)));
  CHECK(same_both_ways(text.substr(0, text.size() - 1)));  // no line end at the end
  // the cut near each line of a block: lists spanning lines, comments, blank lines at the middle
  std::string block = definitions(7);
  for (std::size_t pad = 0; pad < block.size(); pad += 3) {
    std::string padded = std::string(pad, '#') + "\n" + definitions(1) + definitions(2) + block + block;
    CAPTURE(pad);
    same_both_ways(padded);
  }
}

TEST_CASE("parser: a cut inside a list falls back to one thread, with the same tree") {
  // The lines in the middle of the list start like rules, so the cut is put there.
  std::string text = bench::generate_policy(100, 4) + "words = {\n";
  for (int i = 0; i < 4000; ++i) text += "pass ,\n";
  text += "}\n" + bench::generate_policy(100, 5);
  CHECK_FALSE(same_both_ways(text));
  CHECK_FALSE(same_both_ways(crlf(text)));
}

TEST_CASE("parser: syntax errors in any part give exactly one thread's diagnostics") {
  std::string a = bench::generate_policy(300, 6), b = bench::generate_policy(300, 7);
  const std::string broken[] = {"pass to port\n", "web = { 80,\n  443\n", "block >> label \"open\n", "foo\n",
                                "pass from 300.1.1.1\n"};
  for (const std::string& bad : broken) {
    CAPTURE(bad);
    CHECK_FALSE(same_both_ways(bad + a + b));
    CHECK_FALSE(same_both_ways(a + bad + b));
    CHECK_FALSE(same_both_ways(a + b + bad));
    CHECK_FALSE(same_both_ways(bad + a + bad + b + bad));
    Parsed p = parse(a + bad + b, 1);
    CHECK_FALSE(p.diagnostics.empty());
  }
  // from a part with an error on, one thread parses again: its error count and limit are one thread's
  std::string many;
  for (int i = 0; i < 60; ++i) many += "foo\n" + bench::generate_policy(3, i);
  CHECK_FALSE(same_both_ways(a + b + many));
  CHECK_FALSE(same_both_ways(a + many + b));
  CHECK(parse(a + b + many, 1).diagnostics.find("RC101") != std::string::npos);
}

TEST_CASE("parser: included files and their root read the same with two threads") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "rulec-two-threads-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string root;
  for (int i = 0; i < 40; ++i) {
    root += definitions(i);
    std::ofstream(dir / ("part" + std::to_string(i) + ".rules")) << definitions(i % 3) << "block out\n";
  }
  std::ofstream(dir / "root.rules") << root;
  std::string one, two;
  const std::size_t saved = syntax::two_threads_from;
  for (std::size_t threshold : {SIZE_MAX, std::size_t(1)}) {
    syntax::two_threads_from = threshold;
    auto doc = load_file((dir / "root.rules").string());
    std::string all = raw(doc->ast) + diagnostics(doc->diagnostics);
    for (std::uint32_t f = 0; f < doc->sources.size(); ++f) all += ast::dump(doc->ast, f);
    (threshold == 1 ? two : one) = all;
  }
  syntax::two_threads_from = saved;
  CHECK(one.find("RC104") != std::string::npos);  // part0-2 are included again (and by themselves)
  CHECK(two == one);
  fs::remove_all(dir);
}

TEST_CASE("the whole compile of a 30k policy is the same with one and two parse threads") {
  std::string text = bench::generate_policy(30000, 9);
  const std::size_t saved = syntax::two_threads_from;
  for (const char* target : {"nft", "iptables"}) {
    CAPTURE(target);
    std::string out[2];
    for (int two = 0; two < 2; ++two) {
      syntax::two_threads_from = two ? 1 : SIZE_MAX;
      const auto joined = syntax::two_thread_parses.load();
      auto doc = load_text(text, "generated.rules");
      REQUIRE(doc->ok());
      CHECK(syntax::two_thread_parses.load() == joined + two);
      backends::EmitOptions options;
      options.sources = &doc->sources;
      diag::Sink sink;
      REQUIRE(backends::compile(*backends::find(target), doc->ir, options, out[two], sink));
    }
    CHECK(out[0].size() > 1000000);
    CHECK(out[1] == out[0]);
  }
  syntax::two_threads_from = saved;
}
