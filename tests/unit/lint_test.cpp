// Lint findings, one table test each, asserting the full rendered text
// (location, message, code, caret, notes, witness, fix hint).
#include <doctest/doctest.h>

#include "analysis/lint.hpp"
#include "frontend.hpp"

namespace {

/// The lint findings of a policy (not the front end's), rendered as text.
std::string lint(const std::string& text) {
  auto doc = rulec::load_text(text, "t.rules");
  REQUIRE(doc->ok());
  rulec::diag::Sink sink;
  rulec::analysis::lint(doc->ir, doc->ast, doc->sources, sink);
  sink.sort();
  return rulec::diag::render(sink.all(), doc->sources, rulec::diag::Format::Text);
}

}  // namespace

TEST_CASE("lint: rc300 shadowed by earlier done") {
  CHECK(lint(R"RULES(default pass
block in protocol tcp >> done
pass in protocol tcp, to port 22 >> state
)RULES") == R"DIAG(t.rules:3:1: warning: this rule never decides a packet: earlier 'done' rules match every packet it matches [RC300]
 3 | pass in protocol tcp, to port 22 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:2:1: note: an earlier 'done' rule that matches its packets
 2 | block in protocol tcp >> done
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: in tcp 192.0.2.7:40000 -> 198.51.100.2:22
  fix: remove this rule, or move it where it takes effect
)DIAG");
}

TEST_CASE("lint: rc300 shadowed by later rules together") {
  CHECK(lint(R"RULES(default block
pass in protocol tcp, to port 1000-2000 >> state
pass in protocol tcp, to port 1000-1500 >> state
pass in protocol tcp, to port 1400-2000 >> state
)RULES") == R"DIAG(t.rules:2:1: warning: this rule never decides a packet: later rules match every packet it matches [RC300]
 2 | pass in protocol tcp, to port 1000-2000 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:3:1: note: a later rule that matches its packets
 3 | pass in protocol tcp, to port 1000-1500 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:4:1: note: a later rule that matches its packets
 4 | pass in protocol tcp, to port 1400-2000 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: in tcp 192.0.2.7:40000 -> 198.51.100.2:1000
  fix: remove this rule, or move it where it takes effect
)DIAG");
}

TEST_CASE("lint: rc301 redundant no default") {
  CHECK(lint(R"RULES(#PPTP Virtual Private Network
pass protocol tcp, to port 1723 >> state, done
pass protocol 47 >> done
)RULES") == R"DIAG(t.rules:3:1: warning: this rule is redundant: without it, every packet it decides gets the same verdict (no default for inbound and outbound packets: they pass) [RC301]
 3 | pass protocol 47 >> done
   | ^~~~~~~~~~~~~~~~~~~~~~~~
  fix: remove this rule
)DIAG");
}

TEST_CASE("lint: rc301 redundant with default") {
  CHECK(lint(R"RULES(default block in
default pass out
pass in protocol tcp, to port 22 >> state
block in protocol tcp, to port 23
)RULES") == R"DIAG(t.rules:4:1: warning: this rule is redundant: without it, every packet it decides gets the same verdict [RC301]
 4 | block in protocol tcp, to port 23
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:1:1: note: gives the same verdict
 1 | default block in
   | ^~~~~~~~~~~~~~~~
  fix: remove this rule
)DIAG");
}

TEST_CASE("lint: rc302 overridden") {
  CHECK(lint(R"RULES(default pass
pass protocol tcp, to port 1723 >> state
block
)RULES") == R"DIAG(t.rules:2:1: warning: this pass rule never takes effect: later rules decide every packet it matches (the last matching rule wins) [RC302]
 2 | pass protocol tcp, to port 1723 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:3:1: note: blocks some of its packets
 3 | block
   | ^~~~~
  witness: in tcp 192.0.2.7:40000 -> 198.51.100.2:1723
  fix: add '>> done' to this rule, or move it below the rules that override it
)DIAG");
}

TEST_CASE("lint: rc303 order matters") {
  CHECK(lint(R"RULES(default block
pass in from 192.0.2.0/24 >> state
block in protocol tcp, to port 23
)RULES") == R"DIAG(t.rules:3:1: note: this block rule overlaps an earlier rule with a different action, so their order decides some packets [RC303]
 3 | block in protocol tcp, to port 23
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:2:1: note: this earlier rule passes some of the same packets
 2 | pass in from 192.0.2.0/24 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: in tcp 192.0.2.7:40000 -> 198.51.100.2:23
  fix: check that this rule should win for the shared packets (the last matching rule wins)
)DIAG");
}

TEST_CASE("lint: rc304 contradiction") {
  CHECK(lint(R"RULES(default block
pass protocol tcp, protocol udp
)RULES") == R"DIAG(t.rules:2:1: warning: this rule can match no packet: its clauses contradict each other [RC304]
 2 | pass protocol tcp, protocol udp
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  fix: fix or remove the clauses that exclude each other
)DIAG");
}

TEST_CASE("lint: rc305 state on block") {
  CHECK(lint(R"RULES(default pass
reject in protocol udp, to port 137 >> state
)RULES") == R"DIAG(t.rules:2:40: warning: 'state' does nothing on a reject rule: only passed packets create state [RC305]
 2 | reject in protocol udp, to port 137 >> state
   |                                        ^~~~~
  fix: drop 'state' from this rule's options
)DIAG");
}

TEST_CASE("lint: rc306 replies blocked by default") {
  CHECK(lint(R"RULES(default block
pass out protocol udp, to port 53
)RULES") == R"DIAG(t.rules:2:1: warning: this rule keeps no state, and the inbound replies to packets it passes are blocked by the default for inbound packets [RC306]
 2 | pass out protocol udp, to port 53
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:1:1: note: blocks the replies
 1 | default block
   | ^~~~~~~~~~~~~
  witness: in udp 198.51.100.2:53 -> 192.0.2.7:40000
  fix: add '>> state' to this rule, or pass the replies with a rule of their own
)DIAG");
}

TEST_CASE("lint: rc306 replies blocked by rule") {
  CHECK(lint(R"RULES(default pass in
default block out
block in protocol tcp, from port 80
pass out protocol tcp, to port 80
)RULES") == R"DIAG(t.rules:4:1: warning: this rule keeps no state, and the inbound replies to packets it passes are blocked by a rule [RC306]
 4 | pass out protocol tcp, to port 80
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:3:1: note: blocks the replies
 3 | block in protocol tcp, from port 80
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: in tcp 198.51.100.2:80 -> 192.0.2.7:40000
  fix: add '>> state' to this rule, or pass the replies with a rule of their own
)DIAG");
}

TEST_CASE("lint: rc307 impossible") {
  CHECK(lint(R"RULES(default block
pass in on wan from 127.0.0.1 >> state
pass in from 224.0.0.0/4 >> state
)RULES") == R"DIAG(t.rules:2:1: warning: this rule can never match: loopback addresses (127.0.0.0/8, ::1) never appear on 'wan' [RC307]
 2 | pass in on wan from 127.0.0.1 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  fix: check the addresses and the interface of this rule
t.rules:3:1: warning: this rule can never match: no packet has a multicast source address [RC307]
 3 | pass in from 224.0.0.0/4 >> state
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  fix: check the addresses and the interface of this rule
)DIAG");
}

TEST_CASE("lint: suppression") {
  CHECK(lint(R"RULES(default block
# rulec: ignore RC306
pass out protocol udp, to port 53
pass out protocol udp, to port 123 # rulec: ignore RC306, RC303
pass out protocol udp, to port 5353 # rulec: ignore RC301
)RULES") == R"DIAG(t.rules:5:1: warning: this rule keeps no state, and the inbound replies to packets it passes are blocked by the default for inbound packets [RC306]
 5 | pass out protocol udp, to port 5353 # rulec: ignore RC301
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:1:1: note: blocks the replies
 1 | default block
   | ^~~~~~~~~~~~~
  witness: in udp 198.51.100.2:5353 -> 192.0.2.7:40000
  fix: add '>> state' to this rule, or pass the replies with a rule of their own
)DIAG");
}

TEST_CASE("lint: a removed broad rule takes no packets from the rules checked after it") {
  // Line 3 is checked first and learns (broad_carve's memo) that the broad
  // rule of line 4 takes port 80 of its shape; line 4 is then removed as
  // redundant. Line 5 has the same shape: it decides port 80 (line 6 takes
  // 81), so it is redundant, not a rule that never decides a packet.
  std::string out = lint(R"RULES(default pass in
default pass out
pass in protocol tcp, to 192.0.2.2 port 80-81
pass in protocol tcp, to port 80 >> done
pass in protocol tcp, to 192.0.2.1 port 80-81
pass in protocol tcp, to 192.0.2.1 port 81
)RULES");
  for (int line = 3; line <= 6; ++line) {
    CAPTURE(line);
    CHECK(out.find("t.rules:" + std::to_string(line) + ":1: warning: this rule is redundant") != std::string::npos);
  }
  CHECK(out.find("[RC300]") == std::string::npos);
}
