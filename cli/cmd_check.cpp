// rulec check --vpn: would this VPN work through this policy, leg by leg?
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "vpn/check.hpp"

namespace rulec::cli {
namespace {

struct CheckArgs {
  std::string file;
  std::string vpn;
  std::string role = "client";
  std::string via;
  std::string peer;
  int port = 0;
  std::string on;
  std::string format = "text";
};

std::string where(const analysis::Packet& p) {
  std::string dir = ir::to_string(p.direction);
  return p.interface.empty() ? dir : fmt::format("{} on {}", dir, p.interface);
}

std::string flow(const vpn::Row& r) { return r.sender == vpn::Side::Client ? "client -> server" : "server -> client"; }

std::string rule_text(const Document& doc, const diag::Location& loc) {
  const auto& f = doc.sources.file(loc.file);
  std::string t(f.text().substr(loc.begin, std::min<std::uint32_t>(loc.end - loc.begin, 100)));
  for (char& c : t)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return t;
}

/// The "decided by" cell of one judgement.
std::string decided_by(const Document& doc, const vpn::Judgement& j) {
  using By = analysis::Verdict::By;
  auto loc = vpn::deciding_location(doc.ir, j);
  switch (j.verdict.by) {
    case By::State: return "state of this connection";
    case By::NoDefault: return "no rule, no default (passed)";
    case By::Default: return fmt::format("{} (default)", doc.sources.describe(*loc));
    case By::Rule: return doc.sources.describe(*loc) + (j.verdict.created_state ? " (state created)" : "");
  }
  return "";
}

std::string topology(const vpn::Check& c) {
  const vpn::Request& r = c.request;
  std::string client = ir::format_address(c.family, c.client), server = ir::format_address(c.family, c.server);
  if (r.via()) {
    bool client_inside = r.role == vpn::Side::Client;
    return fmt::format("router forwarding {}:{}; client {} {}, server {} {}", r.via_in, r.via_out, client,
                       client_inside ? "inside (on " + r.via_in + ")" : "outside (on " + r.via_out + ")", server,
                       client_inside ? "outside (on " + r.via_out + ")" : "inside (on " + r.via_in + ")");
  }
  std::string iface = r.on.empty() ? "any interface" : "interface " + r.on;
  return r.role == vpn::Side::Client
             ? fmt::format("this host is the client ({}) on {}; server {}", client, iface, server)
             : fmt::format("this host is the server ({}) on {}; client {}", server, iface, client);
}

/// The table lines of one row: one line per judgement.
std::string row_lines(const Document& doc, const vpn::Check& c, const vpn::Row& row, std::size_t w) {
  const vpn::Leg& leg = c.profile.legs[row.leg];
  std::string name = row.reply ? "" : fmt::format("{} ({})", vpn::leg_name(leg), leg.purpose);
  if (row.outcome == vpn::Row::Outcome::NotSent)
    return fmt::format("{:<{}}  {:<17} {:<13} {:<9} {}\n", name, w, flow(row), "-", "not sent",
                       "the first packet is dropped");
  std::string out;
  for (std::size_t h = 0; h < row.hops.size(); ++h) {
    const vpn::Judgement& j = row.hops[h];
    out += fmt::format("{:<{}}  {:<17} {:<13} {:<9} {}\n", h == 0 ? name : "", w, h == 0 ? flow(row) : "",
                       where(j.packet), ir::to_string(j.verdict.action), decided_by(doc, j));
  }
  return out;
}

/// Below a leg's rows: the dropped packet, the rule or default, the symptom.
std::string blocked_lines(const Document& doc, const vpn::Check& c, const vpn::Row& row) {
  const vpn::Judgement* j = row.blocking();
  if (!j) return "";
  auto loc = vpn::deciding_location(doc.ir, *j);
  return fmt::format("  {} {} by {}: {}\n  the user sees: {}\n", analysis::format_packet(j->packet),
                     j->verdict.action == ir::Action::Reject ? "rejected" : "dropped", doc.sources.describe(*loc),
                     rule_text(doc, *loc), c.profile.legs[row.leg].symptom);
}

std::string render_text(const Document& doc, const vpn::Check& c) {
  std::string out = fmt::format("VPN {}: {}\n{}\n", c.profile.name, c.profile.description, topology(c));
  if (!c.profile.note.empty()) out += fmt::format("note: {}\n", c.profile.note);
  for (const std::string& r : c.remarks) out += fmt::format("warning: {}\n", r);
  std::size_t w = 3;
  for (const vpn::Leg& leg : c.profile.legs)
    w = std::max(w, vpn::leg_name(leg).size() + leg.purpose.size() + 3);
  out += fmt::format("\n{:<{}}  {:<17} {:<13} {:<9} {}\n", "leg", w, "direction", "judged", "verdict", "decided by");
  std::size_t passed = 0;
  std::string blocked;  // printed after the last row of each leg
  for (std::size_t i = 0; i < c.rows.size(); ++i) {
    passed += c.rows[i].passed();
    out += row_lines(doc, c, c.rows[i], w);
    blocked += blocked_lines(doc, c, c.rows[i]);
    if (i + 1 < c.rows.size() && c.rows[i + 1].leg == c.rows[i].leg) continue;
    out += blocked;
    blocked.clear();
  }
  out += fmt::format("\nresult: the VPN {} ({} of {} rows pass)\n", c.works() ? "works" : "does not work", passed,
                     c.rows.size());
  if (!c.works() && !c.request.via() && c.request.on.empty() && !doc.ir.interfaces.empty())
    out += fmt::format("hint: without --on, this host's packets are judged on an interface the policy does not "
                       "name, so rules with 'on' ({}) do not apply to them\n",
                       fmt::join(doc.ir.interfaces, ", "));
  return out;
}

nlohmann::json judgement_json(const Document& doc, const vpn::Judgement& j) {
  using By = analysis::Verdict::By;
  nlohmann::json by;
  switch (j.verdict.by) {
    case By::State: by = {{"kind", "state"}}; break;
    case By::NoDefault: by = {{"kind", "no-default"}}; break;
    case By::Default: by = {{"kind", "default"}}; break;
    case By::Rule: by = {{"kind", "rule"}}; break;
  }
  if (auto loc = vpn::deciding_location(doc.ir, j)) by["location"] = doc.sources.describe(*loc);
  return {{"packet", analysis::format_packet(j.packet)},
          {"verdict", ir::to_string(j.verdict.action)},
          {"decided_by", by},
          {"created_state", j.verdict.created_state}};
}

std::string render_json(const Document& doc, const vpn::Check& c) {
  const vpn::Request& r = c.request;
  nlohmann::json rows = nlohmann::json::array();
  for (const vpn::Row& row : c.rows) {
    const vpn::Leg& leg = c.profile.legs[row.leg];
    nlohmann::json hops = nlohmann::json::array();
    for (const vpn::Judgement& j : row.hops) hops.push_back(judgement_json(doc, j));
    nlohmann::json jr{{"leg", vpn::leg_name(leg)}, {"purpose", leg.purpose},         {"direction", flow(row)},
                      {"reply", row.reply},         {"verdict", vpn::to_string(row.outcome)}, {"hops", hops}};
    if (!row.passed()) jr["symptom"] = leg.symptom;
    rows.push_back(jr);
  }
  nlohmann::json topo{{"kind", r.via() ? "router" : "host"}, {"role", vpn::to_string(r.role)}};
  if (r.via()) topo["via"] = {{"in", r.via_in}, {"out", r.via_out}};
  else topo["on"] = r.on.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.on);
  nlohmann::json j{{"vpn", c.profile.name},
                   {"description", c.profile.description},
                   {"custom", c.profile.custom},
                   {"topology", topo},
                   {"client", ir::format_address(c.family, c.client)},
                   {"server", ir::format_address(c.family, c.server)},
                   {"works", c.works()},
                   {"rows", rows},
                   {"remarks", c.remarks}};
  if (!c.profile.note.empty()) j["note"] = c.profile.note;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

/// Turns the options into a request; false (with a message printed) on bad syntax.
bool make_request(const CheckArgs& a, vpn::Request& r) {
  r.profile = a.vpn;
  r.role = a.role == "server" ? vpn::Side::Server : vpn::Side::Client;
  r.on = a.on;
  if (!a.peer.empty()) r.peer = a.peer;
  if (a.port != 0) r.port = static_cast<std::uint16_t>(a.port);
  if (a.via.empty()) return true;
  auto colon = a.via.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.via.size() ||
      a.via.find(':', colon + 1) != std::string::npos) {
    std::cerr << "rulec: error: --via '" << a.via << "': expected IN:OUT, the inside interface first (lan:wan)\n";
    return false;
  }
  r.via_in = a.via.substr(0, colon);
  r.via_out = a.via.substr(colon + 1);
  return true;
}

int run_check(const CheckArgs& a) {
  vpn::Request request;
  if (!make_request(a, request)) return kBadInput;
  auto doc = load_file(a.file);
  if (!doc->ok()) {
    print_diagnostics(doc->diagnostics.all(), doc->sources, diag::Format::Text);
    return kBadInput;
  }
  vpn::CheckError error;
  std::optional<vpn::Check> c = vpn::check_vpn(doc->ir, request, error);
  if (!c) {
    std::cerr << "rulec: error: " << error.message;
    if (!error.suggestion.empty()) std::cerr << "; did you mean '" << error.suggestion << "'?";
    std::cerr << "\n";
    if (error.kind == vpn::CheckError::Kind::UnknownProfile)
      std::cerr << "known profiles: " << fmt::format("{}", fmt::join(vpn::profile_names(doc->ir), ", ")) << "\n";
    return kBadInput;
  }
  if (!write_stdout(a.format == "json" ? render_json(*doc, *c) : render_text(*doc, *c))) return kBadInput;
  return c->works() ? kClean : kFindings;
}

Registrar check("check", "will a VPN work through this policy? rulec check --vpn pptp --via lan:wan FILE",
                [](CLI::App& sub) {
                  auto a = std::make_shared<CheckArgs>();
                  sub.add_option("file", a->file, "policy file (- for standard input)")->required();
                  sub.add_option("--vpn", a->vpn,
                                 "VPN profile: ikev2, l2tp, l2tp-nat-t, openvpn, openvpn-tcp, pptp, sstp, "
                                 "wireguard, or one the policy declares (vpn NAME = { ... })")
                      ->required();
                  sub.add_option("--role", a->role, "this host's role, or the inside machine's with --via (client)")
                      ->check(CLI::IsMember({"client", "server"}));
                  sub.add_option("--via", a->via, "a router forwards: IN:OUT, inside interface first (lan:wan)");
                  sub.add_option("--peer", a->peer, "the remote side's address (default 203.0.113.10)");
                  sub.add_option("--port", a->port, "the port of openvpn, openvpn-tcp, wireguard or a declared leg")
                      ->check(CLI::Range(1, 65535));
                  sub.add_option("--on", a->on, "the host's interface (default: any)");
                  sub.add_option("--format", a->format, "text (default) or json")
                      ->check(CLI::IsMember({"text", "json"}));
                  sub.footer("Exit status: 0 the VPN works, 1 it does not, 2 bad input.");
                  return [a] { return run_check(*a); };
                });

}  // namespace
}  // namespace rulec::cli
