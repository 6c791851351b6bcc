// Regressions found by the fuzzers (fuzz/) and the hostile-input set
// (tests/suites/hostile.sh): each case is the input that broke the front
// end, checked here so it stays fixed. Large inputs live in hostile.sh.
#include <doctest/doctest.h>

#include <string>

#include "analysis/packet.hpp"
#include "frontend.hpp"
#include "syntax/format.hpp"

using namespace rulec;

namespace {

/// The structural dump of a text, and whether it loaded without errors.
std::string dump_of(const std::string& text, bool* clean = nullptr) {
  auto doc = load_text(text, "t.rules");
  if (clean) *clean = !doc->diagnostics.has_errors();
  return ast::dump(doc->ast, 0);
}

/// fmt(text), parsed alone.
std::string fmt_of(const std::string& text) {
  auto doc = load_text(text, "t.rules");
  return syntax::format_file(doc->ast, doc->sources, 0);
}

/// Every diagnostic lies inside the text it points into.
void check_locations(const Document& doc) {
  for (const auto& d : doc.diagnostics.all()) {
    if (!d.has_loc) continue;
    REQUIRE(d.loc.file < doc.sources.size());
    CHECK(d.loc.begin <= d.loc.end);
    CHECK(d.loc.end <= doc.sources.file(d.loc.file).text().size());
  }
}

}  // namespace

// fuzz_parse: the first leg of a service or VPN definition was dropped (its
// `leg_expected` rule had no action), so `service one = { tcp 8443 }`
// matched nothing and fmt printed `service one = { }`, which does not parse.
TEST_CASE("hostile: the first leg of a service or vpn definition is kept") {
  bool clean = false;
  CHECK(dump_of("service one = { tcp 8443 }\npass in service one\n", &clean) ==
        "service \"one\" leg[word(tcp)]port[num(8443)]\nrule pass dir=in service[word(one)]\n");
  CHECK(clean);
  CHECK(dump_of("vpn corp = { udp 1194, tcp port { 443, 8443 } }\n") ==
        "vpn \"corp\" leg[word(udp)]port[num(1194)] leg[word(tcp)]port[num(443) num(8443)]\n");
  CHECK(fmt_of("service one = { tcp 8443 }\n") == "service one = { tcp 8443 }\n");
}

// fuzz_parse: the first name of a service list was dropped the same way.
TEST_CASE("hostile: the first service of a { list } is kept") {
  CHECK(dump_of("pass in service { ssh, https }\n") == "rule pass dir=in service[word(ssh) word(https)]\n");
  CHECK(fmt_of("pass in service { ssh, https }\n") == "pass in service { ssh, https }\n");
}

TEST_CASE("hostile: odd bytes give located errors, never a crash") {
  const std::string cases[] = {
      std::string(""),
      std::string("# only\n# comments\n"),
      std::string("pass in\0 on lan\n", 16),
      std::string("pass in on l\xff\xfe" "an\n"),
      std::string("pass in on lan\r\nblock out\r\n"),
      std::string("\x1b[2J\x7f\x01\x02pass\n"),
      std::string("pass in on lan >> label \"unterminated\n"),
      std::string("l = { 192.0.2.1,\n"),
      std::string(1, '\0'),
  };
  for (const std::string& text : cases) {
    auto doc = load_text(text, "t.rules");
    INFO(text);
    CHECK(doc->read);
    check_locations(*doc);
    std::string rendered = diag::render(doc->diagnostics.all(), doc->sources, diag::Format::Text);
    CHECK(rendered.find('\x1b') == std::string::npos);  // no terminal escapes copied from the input
    CHECK(rendered.find('\0') == std::string::npos);
  }
}

TEST_CASE("hostile: CRLF line ends parse like LF line ends") {
  bool lf_clean = false, crlf_clean = false;
  std::string lf = dump_of("pass in on lan\nblock out\n", &lf_clean);
  std::string crlf = dump_of("pass in on lan\r\nblock out\r\n", &crlf_clean);
  CHECK(lf == crlf);
  CHECK(lf_clean);
  CHECK(crlf_clean);
}

// fuzz_packet: every packet error names a column; this one named none.
TEST_CASE("hostile: the icmp-with-IPv6 packet error names the protocol's column") {
  std::string error;
  CHECK_FALSE(analysis::parse_packet("in on lan icmp 2001:db8::2 -> 2001:db8::1", error));
  CHECK(error == "column 11: icmp is IPv4's; use icmpv6 with IPv6 addresses");
}
