// Every diagnostic of the syntax and semantic stages, asserted as the full
// rendered text (location, message, code, caret, notes, hint).
#include <doctest/doctest.h>

#include "frontend.hpp"

namespace {

std::string lint(const std::string& text) {
  auto doc = rulec::load_text(text, "t.rules");
  return rulec::diag::render(doc->diagnostics.all(), doc->sources, rulec::diag::Format::Text);
}

}  // namespace

TEST_CASE("diagnostics: port out of range") {
  CHECK(lint(R"RULES(default block
pass protocol tcp, to port 99999
)RULES") == R"DIAG(t.rules:2:28: error: port 99999 is outside 0-65535 [RC204]
 2 | pass protocol tcp, to port 99999
   |                            ^~~~~
)DIAG");
}

TEST_CASE("diagnostics: inverted range") {
  CHECK(lint(R"RULES(default block
pass protocol tcp, to port 2000-1000
)RULES") == R"DIAG(t.rules:2:28: error: port range 2000-1000 is inverted [RC204]
 2 | pass protocol tcp, to port 2000-1000
   |                            ^~~~~~~~~
  fix: write 1000-2000
)DIAG");
}

TEST_CASE("diagnostics: port with gre") {
  CHECK(lint(R"RULES(default block
pass protocol gre, to port 80
)RULES") == R"DIAG(t.rules:2:20: error: port given for protocol gre, which has no ports (only tcp, udp and sctp do) [RC203]
 2 | pass protocol gre, to port 80
   |                    ^~~~~~~~~~
  fix: drop the port, or split the rule by protocol
)DIAG");
}

TEST_CASE("diagnostics: host bits") {
  CHECK(lint(R"RULES(default block
pass from 192.0.2.1/24
)RULES") == R"DIAG(t.rules:2:11: warning: '192.0.2.1/24' has host bits set; it means the network 192.0.2.0/24 [RC205]
 2 | pass from 192.0.2.1/24
   |           ^~~~~~~~~~~~
  fix: write 192.0.2.0/24 (or a /32 for the single host)
)DIAG");
}

TEST_CASE("diagnostics: mixed families") {
  CHECK(lint(R"RULES(default block
pass from 192.0.2.1, to 2001:db8::1
)RULES") == R"DIAG(t.rules:2:1: error: this rule mixes IPv4 and IPv6 addresses, so no packet can match it [RC206]
 2 | pass from 192.0.2.1, to 2001:db8::1
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  fix: split it into one rule for IPv4 and one for IPv6
)DIAG");
}

TEST_CASE("diagnostics: unknown protocol") {
  CHECK(lint(R"RULES(default block
pass protocol tpc
)RULES") == R"DIAG(t.rules:2:15: error: unknown protocol 'tpc' [RC207]
 2 | pass protocol tpc
   |               ^~~
  fix: did you mean 'tcp'?
)DIAG");
}

TEST_CASE("diagnostics: unknown service") {
  CHECK(lint(R"RULES(default block
pass service ipsek
)RULES") == R"DIAG(t.rules:2:14: error: unknown service 'ipsek' [RC208]
 2 | pass service ipsek
   |              ^~~~~
  fix: did you mean 'ipsec'?
)DIAG");
}

TEST_CASE("diagnostics: undefined name") {
  CHECK(lint(R"RULES(default block
pass to $nowhere
)RULES") == R"DIAG(t.rules:2:9: error: $nowhere is not defined [RC200]
 2 | pass to $nowhere
   |         ^~~~~~~~
  fix: define it first: nowhere = { ... }
)DIAG");
}

TEST_CASE("diagnostics: duplicate and unused") {
  CHECK(lint(R"RULES(default block
web = { 80 }
web = { 81 }
pass to port $web
)RULES") == R"DIAG(t.rules:3:1: error: 'web' is defined twice [RC201]
 3 | web = { 81 }
   | ^~~
t.rules:2:1: note: first defined here
 2 | web = { 80 }
   | ^~~
  fix: rename one of them, or merge the two lists
)DIAG");
}

TEST_CASE("diagnostics: unused list") {
  CHECK(lint(R"RULES(default block
unused = { 1 }
)RULES") == R"DIAG(t.rules:2:1: warning: list 'unused' is defined but never used [RC202]
 2 | unused = { 1 }
   | ^~~~~~
  fix: remove it, or use it in a rule
)DIAG");
}

TEST_CASE("diagnostics: protocol out of range") {
  CHECK(lint(R"RULES(default block
pass protocol 300
)RULES") == R"DIAG(t.rules:2:15: error: protocol 300 is outside 0-255 [RC211]
 2 | pass protocol 300
   |               ^~~
)DIAG");
}

TEST_CASE("diagnostics: unknown icmp type") {
  CHECK(lint(R"RULES(default block
pass protocol icmp, icmp-type echo-requets
)RULES") == R"DIAG(t.rules:2:31: error: unknown ICMP type 'echo-requets' [RC212]
 2 | pass protocol icmp, icmp-type echo-requets
   |                               ^~~~~~~~~~~~
)DIAG");
}

TEST_CASE("diagnostics: icmp-type without icmp") {
  CHECK(lint(R"RULES(default block
pass icmp-type 8
)RULES") == R"DIAG(t.rules:2:6: error: icmp-type needs 'protocol icmp' or 'protocol icmpv6' in the rule [RC214]
 2 | pass icmp-type 8
   |      ^~~~~~~~~~~
  fix: add 'protocol icmp' (IPv4) or 'protocol icmpv6' (IPv6)
)DIAG");
}

TEST_CASE("diagnostics: second default") {
  CHECK(lint(R"RULES(default block in
default pass in
default pass out
)RULES") == R"DIAG(t.rules:2:1: warning: a second default for inbound packets; this one counts [RC213]
 2 | default pass in
   | ^~~~~~~~~~~~~~~
t.rules:1:1: note: the earlier default
 1 | default block in
   | ^~~~~~~~~~~~~~~~
)DIAG");
}

TEST_CASE("diagnostics: no defaults") {
  CHECK(lint(R"RULES(pass out
)RULES") == R"DIAG(t.rules:1:1: warning: no default for inbound packets: what no rule matches is passed [RC209]
 1 | pass out
   | ^
  fix: add 'default block in' (or 'default block' for both directions)
t.rules:1:1: warning: no default for outbound packets: what no rule matches is passed [RC209]
 1 | pass out
   | ^
  fix: add 'default block out' (or 'default block' for both directions)
)DIAG");
}

TEST_CASE("diagnostics: wrong kind") {
  CHECK(lint(R"RULES(default block
addrs = { 192.0.2.1 }
pass to port $addrs
)RULES") == R"DIAG(t.rules:2:11: error: expected a port here, found an address [RC210]
 2 | addrs = { 192.0.2.1 }
   |           ^~~~~~~~~
)DIAG");
}

TEST_CASE("diagnostics: self reference") {
  CHECK(lint(R"RULES(default block
a = { $a }
pass to $a
)RULES") == R"DIAG(t.rules:2:7: error: $a refers to itself [RC200]
 2 | a = { $a }
   |       ^~
)DIAG");
}

TEST_CASE("diagnostics: missing port") {
  CHECK(lint(R"RULES(pass protocol tcp, to port
)RULES") == R"DIAG(t.rules:1:27: error: expected a port number or range after 'port' [RC100]
 1 | pass protocol tcp, to port
   |                           ^
)DIAG");
}

TEST_CASE("diagnostics: missing interface") {
  CHECK(lint(R"RULES(block out on
)RULES") == R"DIAG(t.rules:1:13: error: expected an interface name after 'on' [RC100]
 1 | block out on
   |             ^
)DIAG");
}

TEST_CASE("diagnostics: bad ipv4") {
  CHECK(lint(R"RULES(pass from 300.1.1.1
)RULES") == R"DIAG(t.rules:1:11: error: invalid IPv4 address '300.1.1.1' [RC100]
 1 | pass from 300.1.1.1
   |           ^
)DIAG");
}

TEST_CASE("diagnostics: bad option") {
  CHECK(lint(R"RULES(pass to port 80 >> stat
)RULES") == R"DIAG(t.rules:1:20: error: expected an option after '>>' (state, done, log, label) [RC100]
 1 | pass to port 80 >> stat
   |                    ^
)DIAG");
}

TEST_CASE("diagnostics: nested list") {
  CHECK(lint(R"RULES(pass from { 192.0.2.1, { 198.51.100.1 } }
)RULES") == R"DIAG(t.rules:1:24: error: lists cannot be nested: put the inner list's values in the outer list [RC100]
 1 | pass from { 192.0.2.1, { 198.51.100.1 } }
   |                        ^
)DIAG");
}

TEST_CASE("diagnostics: unterminated string") {
  CHECK(lint(R"RULES(block >> label "unterminated
)RULES") == R"DIAG(t.rules:1:29: error: unterminated string: expected '"' before the end of the line [RC100]
 1 | block >> label "unterminated
   |                             ^
)DIAG");
}

TEST_CASE("diagnostics: tab before caret") {
  CHECK(lint(R"RULES(	pass  protocol tcp port 80
)RULES") == R"DIAG(t.rules:1:21: error: expected a clause (protocol, from, to, service, family, icmp-type), '>>' or the end of the line [RC100]
 1 | 	pass  protocol tcp port 80
   | 	                   ^
)DIAG");
}

TEST_CASE("diagnostics: not a statement") {
  CHECK(lint(R"RULES(foo bar
)RULES") == R"DIAG(t.rules:1:1: error: expected a statement: a rule (pass, block, reject), default, include, require, service, vpn or name = { ... } [RC100]
 1 | foo bar
   | ^
)DIAG");
}

TEST_CASE("diagnostics: prefix too long") {
  CHECK(lint(R"RULES(pass from 192.0.2.0/33
)RULES") == R"DIAG(t.rules:1:11: error: prefix length /33 is too long for an IPv4 address (at most /32) [RC100]
 1 | pass from 192.0.2.0/33
   |           ^
)DIAG");
}

TEST_CASE("diagnostics: bad escape") {
  CHECK(lint(R"RULES(pass >> label "a\qb"
)RULES") == R"DIAG(t.rules:1:18: error: unknown escape in string: only \" and \\ are allowed [RC100]
 1 | pass >> label "a\qb"
   |                  ^
)DIAG");
}

TEST_CASE("diagnostics: empty list") {
  CHECK(lint(R"RULES(pass to { }
)RULES") == R"DIAG(t.rules:1:11: error: expected an address, 'any' or $name in the list [RC100]
 1 | pass to { }
   |           ^
)DIAG");
}

TEST_CASE("diagnostics: recovers at the next line") {
  CHECK(lint(R"RULES(pass to port
pass from
block out
pass protocol
)RULES") == R"DIAG(t.rules:1:13: error: expected a port number or range after 'port' [RC100]
 1 | pass to port
   |             ^
t.rules:2:10: error: expected an address, 'any', $name, a { list } or 'port' [RC100]
 2 | pass from
   |          ^
t.rules:4:14: error: expected a protocol name, number, { list } or $name after 'protocol' [RC100]
 4 | pass protocol
   |              ^
)DIAG");
}

TEST_CASE("diagnostics: recovers after a multi-line list") {
  CHECK(lint(R"RULES(x = {
  192.0.2.1,
  300.1.1.1,
  192.0.2.3,
}
pass to port
)RULES") == R"DIAG(t.rules:3:3: error: invalid IPv4 address '300.1.1.1' [RC100]
 3 |   300.1.1.1,
   |   ^
t.rules:6:13: error: expected a port number or range after 'port' [RC100]
 6 | pass to port
   |             ^
)DIAG");
}

TEST_CASE("diagnostics: via and on") {
  CHECK(lint(R"RULES(default block
require vpn pptp via lan:wan on wan
)RULES") == R"DIAG(t.rules:2:1: error: 'via' and 'on' cannot be combined: via names both interfaces [RC216]
 2 | require vpn pptp via lan:wan on wan
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
)DIAG");
}

TEST_CASE("diagnostics: control bytes and invalid UTF-8 are shown as '?', the caret stays under its column") {
  CHECK(lint("block >> label \"caf\xc3\xa9\" stat\n") ==
        "t.rules:1:24: error: expected a clause (protocol, from, to, service, family, icmp-type), '>>' or the end "
        "of the line [RC100]\n"
        " 1 | block >> label \"caf\xc3\xa9\" stat\n"
        "   |                       ^\n");
  CHECK(lint("pass \x1b[31m \xff\n") ==
        "t.rules:1:6: error: expected a clause (protocol, from, to, service, family, icmp-type), '>>' or the end "
        "of the line [RC100]\n"
        " 1 | pass ?[31m ?\n"
        "   |      ^\n");
}
