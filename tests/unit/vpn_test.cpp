// The VPN check: the article's PPTP story, every profile passing and failing
// on a host and through a router, and `require vpn` in lint.
//
// Rows are written compactly, one string per row:
//   LEG c>s|s>c HOP [HOP]      HOP = DIR[@IFACE]=VERDICT:BY
//   BY: L<line> a rule (+s: it created state), D<line> a default, S state,
//       N no rule and no default;   "LEG s>c not-sent" for a dropped request's reply.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "analysis/lint.hpp"
#include "frontend.hpp"
#include "vpn/check.hpp"

using rulec::vpn::Request;
using rulec::vpn::Side;

namespace {

std::string hop_text(const rulec::Document& doc, const rulec::vpn::Judgement& j) {
  using By = rulec::analysis::Verdict::By;
  std::string s = rulec::ir::to_string(j.packet.direction);
  if (!j.packet.interface.empty()) s += "@" + j.packet.interface;
  s += "=" + std::string(rulec::ir::to_string(j.verdict.action)) + ":";
  auto loc = rulec::vpn::deciding_location(doc.ir, j);
  switch (j.verdict.by) {
    case By::State: return s + "S";
    case By::NoDefault: return s + "N";
    case By::Default: return s + "D" + std::to_string(doc.sources.file(loc->file).line_col(loc->begin).line);
    case By::Rule:
      return s + "L" + std::to_string(doc.sources.file(loc->file).line_col(loc->begin).line) +
             (j.verdict.created_state ? "+s" : "");
  }
  return s;
}

std::vector<std::string> rows_of(const rulec::Document& doc, const rulec::vpn::Check& c) {
  std::vector<std::string> out;
  for (const auto& row : c.rows) {
    std::string s = rulec::vpn::leg_name(c.profile.legs[row.leg]) +
                    (row.sender == Side::Client ? " c>s" : " s>c");
    if (row.outcome == rulec::vpn::Row::Outcome::NotSent) s += " not-sent";
    for (const auto& j : row.hops) s += " " + hop_text(doc, j);
    out.push_back(s);
  }
  return out;
}

struct Outcome {
  std::vector<std::string> rows;
  bool works = false;
  std::vector<std::string> symptoms;  ///< of failing rows, in order
  std::string error;
};

Outcome run(const std::string& policy, const Request& r) {
  auto doc = rulec::load_text(policy, "t.rules");
  REQUIRE_MESSAGE(doc->ok(), rulec::diag::render(doc->diagnostics.all(), doc->sources, rulec::diag::Format::Text));
  rulec::vpn::CheckError error;
  auto c = rulec::vpn::check_vpn(doc->ir, r, error);
  Outcome o;
  if (!c) {
    o.error = error.message + (error.suggestion.empty() ? "" : " / " + error.suggestion);
    return o;
  }
  o.rows = rows_of(*doc, *c);
  o.works = c->works();
  for (const auto& row : c->rows)
    if (row.blocking()) o.symptoms.push_back(c->profile.legs[row.leg].symptom);
  return o;
}

Request host(std::string profile, Side role = Side::Client) {
  Request r;
  r.profile = std::move(profile);
  r.role = role;
  return r;
}

Request via(std::string profile, Side role = Side::Client) {
  Request r = host(std::move(profile), role);
  r.via_in = "lan";
  r.via_out = "wan";
  return r;
}

using Rows = std::vector<std::string>;

const char* kGre806 = "connects, then hangs at Verifying user name and password; Windows error 806 (older: 721)";

std::string example(const char* name) {
  std::ifstream in(std::string(RULEC_SOURCE_DIR) + "/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// --- The article's story: PPTP from a host whose inbound default is block.

TEST_CASE("vpn story: TCP 1723 blocked") {
  Outcome o = run("default block\npass protocol 47 >> state, done\n", host("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s out=block:D1", "TCP 1723 s>c not-sent", "GRE c>s out=pass:L2+s",
                       "GRE s>c in=pass:S"});
  CHECK_FALSE(o.works);
  CHECK(o.symptoms == std::vector<std::string>{
                          "the connection fails at once: Windows error 800 (unable to establish the VPN connection)"});
}

TEST_CASE("vpn story: GRE blocked") {
  Outcome o = run("default block\npass protocol tcp, to port 1723 >> state, done\n", host("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s out=pass:L2+s", "TCP 1723 s>c in=pass:S", "GRE c>s out=block:D1",
                       "GRE s>c not-sent"});
  CHECK_FALSE(o.works);
  CHECK(o.symptoms == std::vector<std::string>{kGre806});
}

TEST_CASE("vpn story: GRE passed out without state, replies dropped by the inbound default") {
  Outcome o = run(
      "default block in\ndefault pass out\npass out protocol tcp, to port 1723 >> state, done\n"
      "pass out protocol 47 >> done\n",
      host("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s out=pass:L3+s", "TCP 1723 s>c in=pass:S", "GRE c>s out=pass:L4",
                       "GRE s>c in=block:D1"});
  CHECK_FALSE(o.works);
  CHECK(o.symptoms == std::vector<std::string>{kGre806});
}

TEST_CASE("vpn story: everything right (examples/pptp.rules with defaults)") {
  std::string policy = "default block in\ndefault block out\n" + example("pptp.rules");
  Outcome o = run(policy, host("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s out=pass:L4+s", "TCP 1723 s>c in=pass:S", "GRE c>s out=pass:L5",
                       "GRE s>c in=pass:L5"});
  CHECK(o.works);
  CHECK(o.symptoms.empty());
  // The same policy on a PPTP server: the client's packets arrive inbound.
  Outcome s = run(policy, host("pptp", Side::Server));
  CHECK(s.rows == Rows{"TCP 1723 c>s in=pass:L4+s", "TCP 1723 s>c out=pass:S", "GRE c>s in=pass:L5",
                       "GRE s>c out=pass:L5"});
  CHECK(s.works);
}

TEST_CASE("vpn story: done missing, a final block overrides (last match)") {
  const char* body = "pass protocol tcp, to port 1723 >> state{}\npass protocol 47{}\nblock\n";
  std::string without = "default block in\ndefault block out\n" + fmt::format(fmt::runtime(body), "", "");
  Outcome o = run(without, host("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s out=block:L5", "TCP 1723 s>c not-sent", "GRE c>s out=block:L5",
                       "GRE s>c not-sent"});
  CHECK_FALSE(o.works);
  // With done, each pass decides at once and the final block never sees these packets.
  std::string with = "default block in\ndefault block out\n" + fmt::format(fmt::runtime(body), ", done", " >> done");
  Outcome w = run(with, host("pptp"));
  CHECK(w.rows == Rows{"TCP 1723 c>s out=pass:L3+s", "TCP 1723 s>c in=pass:S", "GRE c>s out=pass:L4",
                       "GRE s>c in=pass:L4"});
  CHECK(w.works);
}

TEST_CASE("vpn story: examples/office.rules through the router") {
  std::string text = example("office.rules");
  auto line_of = [&](const std::string& needle) {
    auto at = text.find(needle);
    REQUIRE(at != std::string::npos);
    return std::to_string(1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  };
  std::string in = line_of("pass in on lan from $office_lan, to $vpn_server, service pptp");
  std::string out = line_of("pass out on wan to $vpn_server, service pptp");
  Outcome o = run(text, via("pptp"));
  std::string request = "c>s in@lan=pass:L" + in + "+s out@wan=pass:L" + out + "+s";
  CHECK(o.rows == Rows{"TCP 1723 " + request, "TCP 1723 s>c in@wan=pass:S out@lan=pass:S", "GRE " + request,
                       "GRE s>c in@wan=pass:S out@lan=pass:S"});
  CHECK(o.works);
}

// --- Every profile: passing and failing, on a host and through a router.

TEST_CASE("vpn profile pptp through a router: GRE not passed out on wan") {
  Outcome o = run(
      "default block\npass in on lan protocol tcp, to port 1723 >> state\n"
      "pass out on wan protocol tcp, to port 1723 >> state\npass in on lan protocol gre >> state\n",
      via("pptp"));
  CHECK(o.rows == Rows{"TCP 1723 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "TCP 1723 s>c in@wan=pass:S out@lan=pass:S",
                       "GRE c>s in@lan=pass:L4+s out@wan=block:D1", "GRE s>c not-sent"});
  CHECK(o.symptoms == std::vector<std::string>{kGre806});
}

TEST_CASE("vpn profile ikev2") {
  SUBCASE("host server passes") {
    Outcome o = run("default block\npass in protocol udp, to port { 500, 4500 } >> state\npass in protocol esp >> state\n",
                    host("ikev2", Side::Server));
    CHECK(o.rows == Rows{"UDP 500 c>s in=pass:L2+s", "UDP 500 s>c out=pass:S", "UDP 4500 c>s in=pass:L2+s",
                         "UDP 4500 s>c out=pass:S", "ESP c>s in=pass:L3+s", "ESP s>c out=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host client fails: UDP 4500 forgotten") {
    Outcome o = run("default block\npass out protocol udp, to port 500 >> state\npass out protocol esp >> state\n",
                    host("ikev2"));
    CHECK(o.rows == Rows{"UDP 500 c>s out=pass:L2+s", "UDP 500 s>c in=pass:S", "UDP 4500 c>s out=block:D1",
                         "UDP 4500 s>c not-sent", "ESP c>s out=pass:L3+s", "ESP s>c in=pass:S"});
    CHECK(o.symptoms ==
          std::vector<std::string>{"IKE starts, then stops when it moves to UDP 4500: Windows error 809"});
  }
  SUBCASE("router passes") {
    Outcome o = run("default block\npass in on lan service ikev2 >> state\npass out on wan service ikev2 >> state\n",
                    via("ikev2"));
    CHECK(o.rows == Rows{"UDP 500 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "UDP 500 s>c in@wan=pass:S out@lan=pass:S",
                         "UDP 4500 c>s in@lan=pass:L2+s out@wan=pass:L3+s",
                         "UDP 4500 s>c in@wan=pass:S out@lan=pass:S", "ESP c>s in@lan=pass:L2+s out@wan=pass:L3+s",
                         "ESP s>c in@wan=pass:S out@lan=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("router fails: ESP not passed out on wan") {
    Outcome o = run("default block\npass in on lan service ikev2 >> state\n"
                    "pass out on wan protocol udp, to port { 500, 4500 } >> state\n",
                    via("ikev2"));
    CHECK(o.rows == Rows{"UDP 500 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "UDP 500 s>c in@wan=pass:S out@lan=pass:S",
                         "UDP 4500 c>s in@lan=pass:L2+s out@wan=pass:L3+s",
                         "UDP 4500 s>c in@wan=pass:S out@lan=pass:S", "ESP c>s in@lan=pass:L2+s out@wan=block:D1",
                         "ESP s>c not-sent"});
    CHECK(o.symptoms ==
          std::vector<std::string>{"connects, then no traffic passes through the tunnel (ESP is dropped)"});
  }
}

TEST_CASE("vpn profile l2tp (without NAT-T)") {
  SUBCASE("host passes") {
    Outcome o = run("default block\npass out service l2tp >> state\n", host("l2tp"));
    CHECK(o.rows == Rows{"UDP 500 c>s out=pass:L2+s", "UDP 500 s>c in=pass:S", "ESP c>s out=pass:L2+s",
                         "ESP s>c in=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host fails: UDP 1701 opened, ESP not") {
    Outcome o = run("default block\npass out protocol udp, to port { 500, 1701 } >> state\n", host("l2tp"));
    CHECK(o.rows == Rows{"UDP 500 c>s out=pass:L2+s", "UDP 500 s>c in=pass:S", "ESP c>s out=block:D1",
                         "ESP s>c not-sent"});
    CHECK(o.symptoms == std::vector<std::string>{"IPsec negotiates, then the L2TP tunnel inside ESP never answers: "
                                                 "Windows error 809 after a timeout"});
  }
  SUBCASE("router passes") {
    Outcome o = run("default block\npass in on lan >> state\npass out on wan service l2tp >> state\n", via("l2tp"));
    CHECK(o.rows == Rows{"UDP 500 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "UDP 500 s>c in@wan=pass:S out@lan=pass:S",
                         "ESP c>s in@lan=pass:L2+s out@wan=pass:L3+s", "ESP s>c in@wan=pass:S out@lan=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("router fails: only UDP 1701 passed out on wan") {
    Outcome o = run("default block\npass in on lan >> state\npass out on wan protocol udp, to port 1701 >> state\n",
                    via("l2tp"));
    CHECK(o.rows == Rows{"UDP 500 c>s in@lan=pass:L2+s out@wan=block:D1", "UDP 500 s>c not-sent",
                         "ESP c>s in@lan=pass:L2+s out@wan=block:D1", "ESP s>c not-sent"});
    CHECK(o.symptoms.size() == 2);
    CHECK(o.symptoms[0] == "no answer from the server: Windows error 809 (the remote server is not responding)");
  }
}

TEST_CASE("vpn profile l2tp-nat-t") {
  SUBCASE("host server passes: replies by the outbound default") {
    Outcome o = run("default block in\ndefault pass out\npass in protocol udp, to port { 500, 4500 }\n",
                    host("l2tp-nat-t", Side::Server));
    CHECK(o.rows == Rows{"UDP 500 c>s in=pass:L3", "UDP 500 s>c out=pass:D2", "UDP 4500 c>s in=pass:L3",
                         "UDP 4500 s>c out=pass:D2"});
    CHECK(o.works);
  }
  SUBCASE("host client fails") {
    Outcome o = run("default block\npass out protocol udp, to port 500 >> state\n", host("l2tp-nat-t"));
    CHECK(o.rows == Rows{"UDP 500 c>s out=pass:L2+s", "UDP 500 s>c in=pass:S", "UDP 4500 c>s out=block:D1",
                         "UDP 4500 s>c not-sent"});
  }
  SUBCASE("router with the server inside passes") {
    Outcome o = run("default block\npass in on wan protocol udp, to 192.0.2.7 port { 500, 4500 } >> state\n"
                    "pass out on lan protocol udp, to 192.0.2.7 port { 500, 4500 } >> state\n",
                    via("l2tp-nat-t", Side::Server));
    CHECK(o.rows == Rows{"UDP 500 c>s in@wan=pass:L2+s out@lan=pass:L3+s", "UDP 500 s>c in@lan=pass:S out@wan=pass:S",
                         "UDP 4500 c>s in@wan=pass:L2+s out@lan=pass:L3+s",
                         "UDP 4500 s>c in@lan=pass:S out@wan=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("router with the server inside fails for a client the rules do not name") {
    Request r = via("l2tp-nat-t", Side::Server);
    r.peer = "198.51.100.20";
    Outcome o = run("default block\npass in on wan from 203.0.113.10, protocol udp, to port { 500, 4500 } >> state\n"
                    "pass out on lan protocol udp >> state\n",
                    r);
    CHECK(o.rows == Rows{"UDP 500 c>s in@wan=block:D1", "UDP 500 s>c not-sent", "UDP 4500 c>s in@wan=block:D1",
                         "UDP 4500 s>c not-sent"});
  }
}

TEST_CASE("vpn profile openvpn (UDP)") {
  SUBCASE("host passes") {
    Outcome o = run("default block\npass out protocol udp, to port 1194 >> state\n", host("openvpn"));
    CHECK(o.rows == Rows{"UDP 1194 c>s out=pass:L2+s", "UDP 1194 s>c in=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host fails on another port") {
    Request r = host("openvpn");
    r.port = 1195;
    Outcome o = run("default block\npass out protocol udp, to port 1194 >> state\n", r);
    CHECK(o.rows == Rows{"UDP 1195 c>s out=block:D1", "UDP 1195 s>c not-sent"});
  }
  SUBCASE("router passes on port 443") {
    Request r = via("openvpn");
    r.port = 443;
    Outcome o = run("default block\npass in on lan protocol udp, to port 443 >> state\n"
                    "pass out on wan protocol udp, to port 443 >> state\n",
                    r);
    CHECK(o.rows == Rows{"UDP 443 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "UDP 443 s>c in@wan=pass:S out@lan=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("router fails: passed without state, replies dropped") {
    Outcome o = run("default block\npass in on lan protocol udp, to port 1194\npass out on wan protocol udp, to port 1194\n",
                    via("openvpn"));
    CHECK(o.rows == Rows{"UDP 1194 c>s in@lan=pass:L2 out@wan=pass:L3", "UDP 1194 s>c in@wan=block:D1"});
    CHECK_FALSE(o.works);
  }
}

TEST_CASE("vpn profile openvpn-tcp") {
  SUBCASE("host server on port 443 passes") {
    Request r = host("openvpn-tcp", Side::Server);
    r.port = 443;
    Outcome o = run("default block\npass in protocol tcp, to port 443 >> state\n", r);
    CHECK(o.rows == Rows{"TCP 443 c>s in=pass:L2+s", "TCP 443 s>c out=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host server fails: a later reject overrides") {
    Request r = host("openvpn-tcp", Side::Server);
    r.port = 443;
    Outcome o = run("default block\npass in protocol tcp, to port 443 >> state\nreject in protocol tcp, to port 443\n", r);
    CHECK(o.rows == Rows{"TCP 443 c>s in=reject:L3", "TCP 443 s>c not-sent"});
    CHECK(o.symptoms == std::vector<std::string>{
                            "the client logs 'TCP: connect to ... failed' (timed out or refused) and keeps retrying"});
  }
  SUBCASE("router passes") {
    Outcome o = run("default block\npass in on lan protocol tcp, to port 1194 >> state\n"
                    "pass out on wan protocol tcp, to port 1194 >> state\n",
                    via("openvpn-tcp"));
    CHECK(o.rows == Rows{"TCP 1194 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "TCP 1194 s>c in@wan=pass:S out@lan=pass:S"});
  }
  SUBCASE("router fails: UDP passed instead of TCP") {
    Outcome o = run("default block\npass in on lan >> state\npass out on wan protocol udp, to port 1194 >> state\n",
                    via("openvpn-tcp"));
    CHECK(o.rows == Rows{"TCP 1194 c>s in@lan=pass:L2+s out@wan=block:D1", "TCP 1194 s>c not-sent"});
  }
}

TEST_CASE("vpn profile sstp") {
  SUBCASE("host passes") {
    Outcome o = run("default block\npass out service https >> state\n", host("sstp"));
    CHECK(o.rows == Rows{"TCP 443 c>s out=pass:L2+s", "TCP 443 s>c in=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host fails: a later block of the server's network overrides") {
    Outcome o = run("default block\npass out service https >> state\nblock out to 203.0.113.0/24\n", host("sstp"));
    CHECK(o.rows == Rows{"TCP 443 c>s out=block:L3", "TCP 443 s>c not-sent"});
    CHECK(o.symptoms ==
          std::vector<std::string>{"the connection fails: Windows error 800 (unable to establish the VPN connection)"});
  }
  SUBCASE("router passes") {
    Outcome o = run("default block\npass in on lan service https >> state\npass out on wan service https >> state\n",
                    via("sstp"));
    CHECK(o.rows == Rows{"TCP 443 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "TCP 443 s>c in@wan=pass:S out@lan=pass:S"});
  }
  SUBCASE("router fails: nothing passed in on lan") {
    Outcome o = run("default block\npass out on wan service https >> state\n", via("sstp"));
    CHECK(o.rows == Rows{"TCP 443 c>s in@lan=block:D1", "TCP 443 s>c not-sent"});
  }
}

TEST_CASE("vpn profile wireguard") {
  SUBCASE("host passes") {
    Outcome o = run("default block\npass out protocol udp, to port 51820 >> state\n", host("wireguard"));
    CHECK(o.rows == Rows{"UDP 51820 c>s out=pass:L2+s", "UDP 51820 s>c in=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host server fails: passed in without state") {
    Outcome o = run("default block\npass in protocol udp, to port 51820\n", host("wireguard", Side::Server));
    CHECK(o.rows == Rows{"UDP 51820 c>s in=pass:L2", "UDP 51820 s>c out=block:D1"});
  }
  SUBCASE("router passes on port 51821") {
    Request r = via("wireguard");
    r.port = 51821;
    Outcome o = run("default block\npass in on lan >> state\npass out on wan protocol udp, to port 51821 >> state\n", r);
    CHECK(o.rows == Rows{"UDP 51821 c>s in@lan=pass:L2+s out@wan=pass:L3+s", "UDP 51821 s>c in@wan=pass:S out@lan=pass:S"});
  }
  SUBCASE("router fails: TCP passed instead of UDP") {
    Outcome o = run("default block\npass in on lan >> state\npass out on wan protocol tcp, to port 51820 >> state\n",
                    via("wireguard"));
    CHECK(o.rows == Rows{"UDP 51820 c>s in@lan=pass:L2+s out@wan=block:D1", "UDP 51820 s>c not-sent"});
  }
}

TEST_CASE("vpn profile declared in the policy") {
  const char* corp = "vpn corp = { tcp 8443, udp 8443 }\ndefault block\n";
  SUBCASE("host passes") {
    Outcome o = run(std::string(corp) + "pass out protocol { tcp, udp }, to port 8443 >> state\n", host("corp"));
    CHECK(o.rows == Rows{"TCP 8443 c>s out=pass:L3+s", "TCP 8443 s>c in=pass:S", "UDP 8443 c>s out=pass:L3+s",
                         "UDP 8443 s>c in=pass:S"});
    CHECK(o.works);
  }
  SUBCASE("host fails: UDP forgotten") {
    Outcome o = run(std::string(corp) + "pass out protocol tcp, to port 8443 >> state\n", host("corp"));
    CHECK(o.rows == Rows{"TCP 8443 c>s out=pass:L3+s", "TCP 8443 s>c in=pass:S", "UDP 8443 c>s out=block:D2",
                         "UDP 8443 s>c not-sent"});
    CHECK(o.symptoms == std::vector<std::string>{"the VPN 'corp' does not connect: UDP 8443 does not get through"});
  }
  SUBCASE("router passes") {
    Outcome o = run(std::string(corp) + "pass in on lan >> state\npass out on wan >> state\n", via("corp"));
    CHECK(o.rows == Rows{"TCP 8443 c>s in@lan=pass:L3+s out@wan=pass:L4+s", "TCP 8443 s>c in@wan=pass:S out@lan=pass:S",
                         "UDP 8443 c>s in@lan=pass:L3+s out@wan=pass:L4+s", "UDP 8443 s>c in@wan=pass:S out@lan=pass:S"});
  }
  SUBCASE("router fails: a later done rule blocks TCP out on wan") {
    Outcome o = run(std::string(corp) +
                        "pass in on lan >> state\nblock out on wan protocol tcp >> done\npass out on wan >> state\n",
                    via("corp"));
    CHECK(o.rows == Rows{"TCP 8443 c>s in@lan=pass:L3+s out@wan=block:L4", "TCP 8443 s>c not-sent",
                         "UDP 8443 c>s in@lan=pass:L3+s out@wan=pass:L5+s", "UDP 8443 s>c in@wan=pass:S out@lan=pass:S"});
  }
  SUBCASE("a leg without a port takes --port") {
    std::string policy = "vpn tun = { udp }\ndefault block\npass out protocol udp, to port 9000 >> state\n";
    CHECK(run(policy, host("tun")).error == "VPN 'tun' has a UDP leg without a port: give one with --port N (port N in require)");
    Request r = host("tun");
    r.port = 9000;
    CHECK(run(policy, r).rows == Rows{"UDP 9000 c>s out=pass:L3+s", "UDP 9000 s>c in=pass:S"});
  }
  SUBCASE("an ICMP leg is an echo request, its reply an echo reply") {
    Outcome o = run("vpn ping = { icmp }\ndefault block\npass out protocol icmp, icmp-type echo-request\n"
                    "pass in protocol icmp, icmp-type echo-reply\n",
                    host("ping"));
    CHECK(o.rows == Rows{"ICMP c>s out=pass:L3", "ICMP s>c in=pass:L4"});
  }
  SUBCASE("a declared profile takes precedence over a built-in one") {
    Outcome o = run("vpn pptp = { tcp 1723 }\ndefault block\npass out protocol tcp, to port 1723 >> state\n",
                    host("pptp"));
    CHECK(o.rows == Rows{"TCP 1723 c>s out=pass:L3+s", "TCP 1723 s>c in=pass:S"});
  }
}

TEST_CASE("vpn check: a leg the server starts") {
  auto doc = rulec::load_text("default block\npass in protocol udp, to port 7000 >> state\n", "t.rules");
  REQUIRE(doc->ok());
  rulec::vpn::Profile p;
  p.name = "callback";
  rulec::vpn::Leg leg;
  leg.protocol = 17;
  leg.port = 7000;
  leg.starts = Side::Server;
  p.legs.push_back(leg);
  leg.replies = false;
  p.legs.push_back(leg);
  rulec::vpn::CheckError error;
  auto c = rulec::vpn::check_profile(doc->ir, p, host("callback"), error);
  REQUIRE(c);
  CHECK(rows_of(*doc, *c) == Rows{"UDP 7000 s>c in=pass:L2+s", "UDP 7000 c>s out=pass:S", "UDP 7000 s>c in=pass:S"});
  CHECK(rulec::analysis::format_packet(c->rows[0].hops[0].packet) == "in udp 203.0.113.10:50000 -> 192.0.2.7:7000");
}

TEST_CASE("vpn check: addresses and bad requests") {
  const char* policy = "default block\npass out >> state\n";
  Request r = host("pptp");
  r.peer = "2001:db8::10";
  auto doc = rulec::load_text(policy, "t.rules");
  rulec::vpn::CheckError error;
  auto c = rulec::vpn::check_vpn(doc->ir, r, error);
  REQUIRE(c);
  CHECK(rulec::analysis::format_packet(c->rows[0].hops[0].packet) == "out tcp [2001:db8::7]:50000 -> [2001:db8::10]:1723");
  r.peer = "192.0.2.7";  // the default local address: the local side moves aside
  c = rulec::vpn::check_vpn(doc->ir, r, error);
  REQUIRE(c);
  CHECK(rulec::analysis::format_packet(c->rows[0].hops[0].packet) == "out tcp 192.0.2.8:50000 -> 192.0.2.7:1723");
  r.peer = "203.0.113.10/32";
  CHECK(rulec::vpn::check_vpn(doc->ir, r, error));

  auto err = [&](Request q) { return run(policy, q).error; };
  CHECK(err(host("pptpp")) == "unknown VPN profile 'pptpp' / pptp");
  CHECK(err(host("ipsec-over-carrier-pigeon")) == "unknown VPN profile 'ipsec-over-carrier-pigeon'");
  Request q = host("pptp");
  q.port = 1724;
  CHECK(err(q) == "VPN 'pptp' uses fixed ports; a port can be given for openvpn, openvpn-tcp, wireguard and declared "
                  "legs without a port");
  q = host("openvpn");
  q.port = 0;
  CHECK(err(q) == "port 0 is not a port a VPN can use");
  q = via("pptp");
  q.via_out = "lan";
  CHECK(err(q) == "via lan:lan names one interface twice; a router forwards between two");
  q = via("pptp");
  q.on = "wan";
  CHECK(err(q) == "'via' and 'on' cannot be combined: via names both interfaces");
  q = host("pptp");
  q.peer = "203.0.113.0/24";
  CHECK(err(q) == "peer '203.0.113.0/24' is a network; give the address of one machine");
  q.peer = "203.0.113.10/";
  CHECK(err(q) == "peer '203.0.113.10/' is a network; give the address of one machine");
  q.peer = "vpn.example.com";
  CHECK(err(q) == "peer 'vpn.example.com' is not an IPv4 or IPv6 address");
}

TEST_CASE("vpn check: an interface the policy never names is remarked") {
  auto doc = rulec::load_text("default block\npass in on lan >> state\npass out on wan >> state\n", "t.rules");
  rulec::vpn::CheckError error;
  Request r = via("pptp");
  r.via_in = "lan0";
  auto c = rulec::vpn::check_vpn(doc->ir, r, error);
  REQUIRE(c);
  CHECK(c->remarks == std::vector<std::string>{"the policy never names interface 'lan0' (it names lan, wan); only "
                                               "rules without 'on' apply to it"});
  CHECK_FALSE(c->works());
}

// --- require vpn in lint.

namespace {

std::string lint(const std::string& text) {
  auto doc = rulec::load_text(text, "t.rules");
  REQUIRE(doc->ok());
  rulec::analysis::lint(doc->ir, doc->ast, doc->sources, doc->diagnostics);
  auto& all = doc->diagnostics.all();
  all.erase(std::remove_if(all.begin(), all.end(), [](const auto& d) { return d.code.rfind("RC4", 0) != 0 && d.code != "RC215" && d.code != "RC216"; }),
            all.end());
  doc->diagnostics.sort();
  return rulec::diag::render(all, doc->sources, rulec::diag::Format::Text);
}

}  // namespace

TEST_CASE("vpn require: replies dropped, with notes at the default and at the stateless pass") {
  CHECK(lint("default block in\ndefault pass out\npass out protocol tcp, to port 1723 >> state, done\n"
             "pass out protocol 47 >> done\nrequire vpn pptp\n") ==
        R"(t.rules:5:1: error: VPN 'pptp' would not work: GRE (PPTP tunnel) replies from the server to the client are dropped inbound; the user sees: connects, then hangs at Verifying user name and password; Windows error 806 (older: 721) [RC401]
 5 | require vpn pptp
   | ^~~~~~~~~~~~~~~~
t.rules:1:1: note: no rule passes it, so this default blocks it
 1 | default block in
   | ^~~~~~~~~~~~~~~~
t.rules:4:1: note: this rule passes the first packet (outbound) without '>> state', so its replies are judged by the rules
 4 | pass out protocol 47 >> done
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: in gre 203.0.113.10 -> 192.0.2.7
  fix: add '>> state' to the rule that passes the first packet, or pass the replies with a rule
)");
}

TEST_CASE("vpn require: a blocking rule through a router") {
  CHECK(lint("default block\npass in on lan >> state\nblock out on wan protocol gre >> done\npass out on wan >> state\n"
             "require vpn pptp client via lan:wan to 198.51.100.2\n") ==
        R"(t.rules:5:1: error: VPN 'pptp' would not work: GRE (PPTP tunnel) from the client to the server is dropped outbound on wan; the user sees: connects, then hangs at Verifying user name and password; Windows error 806 (older: 721) [RC400]
 5 | require vpn pptp client via lan:wan to 198.51.100.2
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
t.rules:3:1: note: this rule blocks it (the deciding rule: it has 'done')
 3 | block out on wan protocol gre >> done
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
  witness: out on wan gre 192.0.2.7 -> 198.51.100.2
  fix: pass GRE outbound on wan
)");
}

TEST_CASE("vpn require: unknown profile, bad requirement, unnamed interface, and a clean pass") {
  CHECK(lint("default block\npass out >> state\nrequire vpn wiregaurd\n") ==
        R"(t.rules:3:1: error: unknown VPN profile 'wiregaurd' [RC215]
 3 | require vpn wiregaurd
   | ^~~~~~~~~~~~~~~~~~~~~
  fix: did you mean 'wireguard'?
)");
  CHECK(lint("default block\npass out >> state\nrequire vpn pptp port 1724\n") ==
        R"(t.rules:3:1: error: VPN 'pptp' uses fixed ports; a port can be given for openvpn, openvpn-tcp, wireguard and declared legs without a port [RC216]
 3 | require vpn pptp port 1724
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~
)");
  CHECK(lint("default block\npass on lan >> state\npass out on wan >> state\nrequire vpn openvpn via lan:wan port 443\n")
            .empty());
  CHECK(lint("default block\npass on lan >> state\npass out >> state\nrequire vpn sstp via lan:wan0\n") ==
        R"(t.rules:4:1: warning: the policy never names interface 'wan0' (it names lan); only rules without 'on' apply to it [RC402]
 4 | require vpn sstp via lan:wan0
   | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~
)");
  CHECK(lint("default block\npass in on wan protocol udp, to port 51821 >> state\n"
             "require vpn wireguard server on wan port 51821\nrequire vpn wireguard server on wan to 2001:db8::5 port 51821\n")
            .empty());
  CHECK(lint("default block\npass in on wan protocol udp, to port 51821 >> state\nrequire vpn wireguard server on wan\n")
            .find("[RC400]") != std::string::npos);
  std::string office = example("office.rules");
  CHECK(lint(office).empty());
}
