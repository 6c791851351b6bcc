// The intermediate form's own containers: ir::FieldSet keeps a few ranges
// inside the object and moves to the heap beyond them; either way it must
// behave like the std::vector it replaced.
#include <doctest/doctest.h>

#include <vector>

#include "../../bench/policy_gen.hpp"
#include "frontend.hpp"
#include "ir/ir.hpp"

namespace {

using rulec::ir::FieldSet;
using rulec::ir::Range;
using rulec::ir::U128;

template <typename T>
std::vector<Range<T>> as_vector(const FieldSet<T>& s) {
  return std::vector<Range<T>>(s.begin(), s.end());
}

template <typename T>
FieldSet<T> numbers(unsigned n) {
  FieldSet<T> s;
  for (unsigned i = 0; i < n; ++i) s.push_back({static_cast<T>(3 * i), static_cast<T>(3 * i + 1)});
  return s;
}

TEST_CASE_TEMPLATE("ir::FieldSet behaves like a vector, inline and on the heap", T, std::uint8_t, std::uint16_t,
                   std::uint32_t, U128) {
  for (unsigned n : {0u, 1u, 2u, 8u, 9u, 40u}) {
    CAPTURE(n);
    FieldSet<T> s = numbers<T>(n);
    REQUIRE(s.size() == n);
    CHECK(s.empty() == (n == 0));
    for (unsigned i = 0; i < n; ++i) CHECK(s[i] == Range<T>{static_cast<T>(3 * i), static_cast<T>(3 * i + 1)});
    if (n) {
      CHECK(s.front() == s[0]);
      CHECK(s.back() == s[n - 1]);
    }
    FieldSet<T> copy = s;
    CHECK(copy == s);
    FieldSet<T> moved = std::move(copy);
    CHECK(moved == s);
    CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from set is empty
    FieldSet<T> other = {{7, 9}};
    other.swap(moved);
    CHECK(other == s);
    CHECK(moved == FieldSet<T>{{7, 9}});
    moved = other;
    CHECK(moved == s);
    moved.push_back({200, 201});
    CHECK_FALSE(moved == s);
    moved.erase(moved.end() - 1);
    CHECK(moved == s);
    moved.insert(moved.begin(), Range<T>{250, 251});
    CHECK(moved.size() == n + 1);
    CHECK(moved.front() == Range<T>{250, 251});
    moved.erase(moved.begin(), moved.begin() + 1);
    CHECK(moved == s);
    moved.resize(n / 2);
    CHECK(as_vector(moved) == std::vector<Range<T>>(s.begin(), s.begin() + n / 2));
    moved.clear();
    CHECK(moved.empty());
    moved.assign(s.begin(), s.end());
    CHECK(moved == s);
    // push_back of one of the set's own ranges while it grows
    FieldSet<T> self = numbers<T>(n);
    if (n) {
      for (unsigned k = 0; k < 20; ++k) self.push_back(self[0]);
      CHECK(self.size() == n + 20);
      CHECK(self.back() == s[0]);
    }
  }
}

TEST_CASE("ir::normalise sorts and merges in a FieldSet") {
  FieldSet<std::uint16_t> s = {{80, 80}, {1, 5}, {6, 10}, {443, 443}, {81, 90}, {3, 4}};
  rulec::ir::normalise(s);
  CHECK(s == FieldSet<std::uint16_t>{{1, 10}, {80, 90}, {443, 443}});
  FieldSet<U128> a = {{~U128{0}, ~U128{0}}, {0, 0}, {1, 1}};
  rulec::ir::normalise(a);
  CHECK(a == FieldSet<U128>{{0, 1}, {~U128{0}, ~U128{0}}});
}

/// Everything lowering makes, as text, so that two runs can be compared.
std::string dump(const rulec::Document& doc) {
  std::string out = rulec::diag::render(doc.diagnostics.all(), doc.sources, rulec::diag::Format::Json);
  const rulec::ir::Policy& ir = doc.ir;
  for (const auto& name : ir.interfaces) out += "iface " + name + "\n";
  for (auto i : ir.empty_source_rules) out += "empty " + std::to_string(i) + "\n";
  for (const auto& l : ir.source_rules) out += "source " + std::to_string(l.begin) + "\n";
  auto ranges = [&](const auto& set) {
    for (const auto& r : set) out += " " + std::to_string(static_cast<unsigned long long>(r.lo)) + "-" +
                                     std::to_string(static_cast<unsigned long long>(r.hi));
    out += " |";
  };
  for (const rulec::ir::Rule& r : ir.rules) {
    out += std::to_string(static_cast<int>(r.action)) + std::to_string(r.state) + std::to_string(r.done) +
           std::to_string(r.log) + std::string(ir.label(r)) + " " + std::to_string(r.label_id) + " " + std::to_string(r.source_rule) + " " +
           std::to_string(r.origin.begin) + " line " + std::to_string(r.line) + " column " + std::to_string(r.column) + ":";
    const auto& m = r.match;
    ranges(m.directions), ranges(m.interfaces), ranges(m.families), ranges(m.protocols), ranges(m.src);
    ranges(m.dst), ranges(m.sport), ranges(m.dport), ranges(m.icmp_types);
    out += "\n";
  }
  return out;
}

TEST_CASE("two threads lower a policy as one thread does: IR, interfaces and diagnostics") {
  std::string tricky =
      "first = { 192.0.2.1 }\nsecond = { 198.51.100.0/24 }\nnever = { 203.0.113.9 }\nboth = { 80, 443 }\n"
      "default block in\n";
  for (int i = 0; i < 40; ++i) {
    bool late = i >= 20;
    tricky += late ? "pass in on wan" : "pass in on lan";
    tricky += late ? " from $second" : " from $first";
    tricky += " to port $both";
    // labels met in the first half only, the second only, and both
    if (i % 3 == 0) tricky += i % 2 ? " >> log, label \"both\"" : late ? " >> label \"late\"" : " >> label \"early\"";
    tricky += "\n";
    if (i == 5 || i == 30) tricky += "pass out on dmz protocol tcp, protocol udp\n";  // lowers to nothing
    if (i == 33) tricky += "pass out on eth9 from 192.0.2.1/24 to 2001:db8::1\n";  // RC205 and RC206
  }
  tricky += "pass on late0 protocol tpc\n";  // an error in the second half
  std::vector<std::string> texts = {tricky, rulec::bench::generate_policy(5000, 3)};
  for (const std::string& text : texts) {
    rulec::semantics::LowerOptions one, two;
    one.two_threads_from = SIZE_MAX;
    two.two_threads_from = 2;
    auto a = rulec::load_text(text, "t.rules", "", one);
    auto b = rulec::load_text(text, "t.rules", "", two);
    CHECK(a->ir.rules.size() > 0);
    CHECK(dump(*a) == dump(*b));
  }
}

TEST_CASE("labels are numbered from 1 in order of first use, one number a text") {
  auto doc = rulec::load_text(
      "default block\npass to port 22 >> label \"ssh\"\npass to port 80\npass to port 443 >> log, label \"web\"\n"
      "block from 192.0.2.1 >> label \"ssh\"\npass to port 25 >> label \"\"\n",
      "t.rules");
  REQUIRE(doc->ok());
  const rulec::ir::Policy& ir = doc->ir;
  REQUIRE(ir.rules.size() == 5);
  CHECK(ir.labels == std::vector<std::string>{"ssh", "web"});
  CHECK(ir.rules[0].label_id == 1);
  CHECK(ir.rules[1].label_id == 0);
  CHECK(ir.rules[2].label_id == 2);
  CHECK(ir.rules[3].label_id == 1);
  CHECK(ir.rules[4].label_id == 0);  // an empty label is none
  CHECK(ir.label(ir.rules[3]) == "ssh");
  CHECK(ir.label(ir.rules[1]).empty());
  // by hand: the same numbering
  rulec::ir::Policy p;
  rulec::ir::Rule a, b, c;
  p.set_label(a, "x");
  p.set_label(b, "y");
  p.set_label(c, "x");
  CHECK(a.label_id == 1);
  CHECK(b.label_id == 2);
  CHECK(c.label_id == 1);
  CHECK(p.label(b) == "y");
}

TEST_CASE("a policy large enough to be mapped ahead parses and lowers as small ones do, with one or two threads") {
  // Over 1 MB of text and 16,384 statements: the parser's arrays and the IR
  // are mapped ahead by another thread (support/page_mapper.hpp).
  std::string text = rulec::bench::generate_policy(30000, 7);
  REQUIRE(text.size() > (std::size_t(1) << 20));
  rulec::semantics::LowerOptions one, two;
  one.two_threads_from = SIZE_MAX;
  two.two_threads_from = 2;
  auto a = rulec::load_text(text, "t.rules", "", one);
  auto b = rulec::load_text(text, "t.rules", "", two);
  REQUIRE(a->ok());
  CHECK(a->ir.rules.size() > 30000);
  CHECK(dump(*a) == dump(*b));
  // The same statements read in pieces of under 1 MB, which are not mapped ahead.
  std::string pieces;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', std::min(text.size() - 1, at + 200000));
    end = end == std::string::npos ? text.size() : end + 1;
    auto piece = rulec::load_text(text.substr(at, end - at), "t.rules");
    pieces += rulec::ast::dump(piece->ast, 0);
    at = end;
  }
  CHECK(pieces == rulec::ast::dump(a->ast, 0));
}

TEST_CASE("each IR rule records the line and column its source rule starts at, as the source map counts them") {
  // CRLF and LF line ends, indented rules, lists over several lines, blank
  // lines and comments between; with one thread and with two.
  std::string text =
      "wide = { 80,\r\n  443 }\r\n\r\n# a comment\npass to port $wide\r\n   block in from 192.0.2.1\n"
      "pass protocol { tcp,\n udp } to port 53 >> state\n\n\n\t reject out service pptp\n";
  text += rulec::bench::generate_policy(300, 5);
  for (std::size_t from : {SIZE_MAX, std::size_t{2}}) {
    rulec::semantics::LowerOptions options;
    options.two_threads_from = from;
    auto doc = rulec::load_text(text, "t.rules", "", options);
    REQUIRE(doc->ok());
    REQUIRE(doc->ir.rules.size() > 300);
    std::size_t indented = 0;
    for (const rulec::ir::Rule& r : doc->ir.rules) {
      CAPTURE(r.origin.begin);
      const rulec::diag::LineCol want = doc->sources.file(r.origin.file).line_col(r.origin.begin);
      CHECK(r.line == want.line);
      CHECK(r.column == want.column);
      indented += r.column > 1;
    }
    CHECK(indented == 3);  // "   block in", and "\t reject out service pptp" (tcp 1723 and gre)
  }
}

}  // namespace
