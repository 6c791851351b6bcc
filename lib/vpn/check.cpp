// The VPN check: legs -> packets -> the reference evaluator.
#include "vpn/check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "semantics/catalog.hpp"

namespace rulec::vpn {
namespace {

constexpr std::uint16_t kEphemeralPort = 50000;

bool fail(CheckError& error, CheckError::Kind kind, std::string message, std::string suggestion = "") {
  error = {kind, std::move(message), std::move(suggestion)};
  return false;
}

bool validate_shape(const Request& r, CheckError& error) {
  using K = CheckError::Kind;
  if (r.via() && (r.via_in.empty() || r.via_out.empty()))
    return fail(error, K::BadRequest, "via needs two interfaces: via IN:OUT (the inside one first)");
  if (r.via() && r.via_in == r.via_out)
    return fail(error, K::BadRequest,
                fmt::format("via {0}:{0} names one interface twice; a router forwards between two", r.via_in));
  if (r.via() && !r.on.empty())
    return fail(error, K::BadRequest, "'via' and 'on' cannot be combined: via names both interfaces");
  return true;
}

/// Applies --port to the configurable legs; rejects it where no leg takes it.
bool apply_port(Profile& p, const Request& r, CheckError& error) {
  if (r.port && *r.port == 0)
    return fail(error, CheckError::Kind::BadRequest, "port 0 is not a port a VPN can use");
  bool takes_port = false;
  for (Leg& l : p.legs) {
    if (!l.port_configurable) continue;
    takes_port = true;
    if (r.port) l.port = *r.port;
    if (l.port == 0)
      return fail(error, CheckError::Kind::BadRequest,
                  fmt::format("VPN '{}' has a {} leg without a port: give one with --port N (port N in require)",
                              p.name, leg_name(l)));
  }
  if (r.port && !takes_port)
    return fail(error, CheckError::Kind::BadRequest,
                fmt::format("VPN '{}' uses fixed ports; a port can be given for openvpn, openvpn-tcp, wireguard "
                            "and declared legs without a port",
                            p.name));
  return true;
}

/// The local and remote addresses: the peer, or documentation addresses.
bool resolve_addresses(const Request& r, Check& c, ir::U128& local, ir::U128& remote, CheckError& error) {
  auto local4 = *ir::parse_address("192.0.2.7");
  auto remote4 = *ir::parse_address("203.0.113.10");
  if (!r.peer) {
    c.family = ir::Family::Inet;
    local = local4.second;
    remote = remote4.second;
    return true;
  }
  std::string text = *r.peer;
  auto slash = text.find('/');
  std::string length = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (slash != std::string::npos) text.resize(slash);
  auto addr = ir::parse_address(text);
  if (!addr)
    return fail(error, CheckError::Kind::BadRequest,
                fmt::format("peer '{}' is not an IPv4 or IPv6 address", *r.peer));
  if (slash != std::string::npos && length != (addr->first == ir::Family::Inet ? "32" : "128"))
    return fail(error, CheckError::Kind::BadRequest,
                fmt::format("peer '{}' is a network; give the address of one machine", *r.peer));
  c.family = addr->first;
  remote = addr->second;
  const char* mine = c.family == ir::Family::Inet ? "192.0.2.7" : "2001:db8::7";
  const char* other = c.family == ir::Family::Inet ? "192.0.2.8" : "2001:db8::8";
  local = ir::parse_address(mine)->second;
  if (local == remote) local = ir::parse_address(other)->second;
  return true;
}

void note_unnamed_interfaces(const ir::Policy& policy, const Request& r, Check& c) {
  if (policy.interfaces.empty()) return;
  for (const std::string* name : {&r.on, &r.via_in, &r.via_out}) {
    if (name->empty() || policy.interface_index(*name) < policy.interfaces.size()) continue;
    c.remarks.push_back(fmt::format("the policy never names interface '{}' (it names {}); only rules without "
                                    "'on' apply to it",
                                    *name, fmt::join(policy.interfaces, ", ")));
  }
}

/// The interfaces and directions a packet from `sender` is judged at.
std::vector<std::pair<ir::Direction, std::string>> path_of(const Request& r, bool sender_is_local) {
  if (!r.via()) return {{sender_is_local ? ir::Direction::Out : ir::Direction::In, r.on}};
  const std::string& from = sender_is_local ? r.via_in : r.via_out;
  const std::string& to = sender_is_local ? r.via_out : r.via_in;
  return {{ir::Direction::In, from}, {ir::Direction::Out, to}};
}

/// The packet that starts a leg, as the starting side sends it.
analysis::Packet first_packet(const Check& c, const Leg& leg) {
  analysis::Packet p;
  p.family = c.family;
  p.protocol = leg.protocol;
  bool from_client = leg.starts == Side::Client;
  p.src = from_client ? c.client : c.server;
  p.dst = from_client ? c.server : c.client;
  if (ir::proto::has_ports(leg.protocol)) {
    p.sport = leg.source_port.value_or(kEphemeralPort);
    p.dport = leg.port;
  }
  if (ir::proto::is_icmp(leg.protocol)) p.icmp_type = c.family == ir::Family::Inet ? 8 : 128;  // echo request
  return p;
}

Row judge(const ir::Policy& policy, const Check& c, analysis::StateTable& state, std::size_t leg_index,
          const analysis::Packet& packet, Side sender) {
  Row row;
  row.leg = leg_index;
  row.sender = sender;
  bool sender_is_local = sender == c.request.role;
  for (const auto& [direction, iface] : path_of(c.request, sender_is_local)) {
    analysis::Packet p = packet;
    p.direction = direction;
    p.interface = iface;
    analysis::Verdict v = analysis::evaluate(policy, p, &state);
    row.hops.push_back({p, v});
    if (v.passed()) continue;
    row.outcome = v.action == ir::Action::Reject ? Row::Outcome::Reject : Row::Outcome::Block;
    break;
  }
  return row;
}

}  // namespace

Request Request::from(const ir::Requirement& r) {
  Request q;
  q.profile = r.vpn;
  q.role = r.role == "server" ? Side::Server : Side::Client;
  q.via_in = r.via_in;
  q.via_out = r.via_out;
  q.on = r.on;
  q.peer = r.peer;
  q.port = r.port;
  return q;
}

const Judgement* Row::blocking() const {
  if (outcome == Outcome::Pass || outcome == Outcome::NotSent || hops.empty()) return nullptr;
  return &hops.back();
}

const char* to_string(Row::Outcome o) {
  switch (o) {
    case Row::Outcome::Pass: return "pass";
    case Row::Outcome::Block: return "block";
    case Row::Outcome::Reject: return "reject";
    case Row::Outcome::NotSent: return "not sent";
  }
  return "?";
}

bool Check::works() const {
  return std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.passed(); });
}

std::optional<Check> check_vpn(const ir::Policy& policy, const Request& request, CheckError& error) {
  std::optional<Profile> profile = find_profile(policy, request.profile);
  if (!profile) {
    std::string near = semantics::closest(request.profile, profile_names(policy));
    fail(error, CheckError::Kind::UnknownProfile, fmt::format("unknown VPN profile '{}'", request.profile), near);
    return std::nullopt;
  }
  return check_profile(policy, std::move(*profile), request, error);
}

std::optional<Check> check_profile(const ir::Policy& policy, Profile profile, const Request& request,
                                   CheckError& error) {
  if (!validate_shape(request, error) || !apply_port(profile, request, error)) return std::nullopt;
  Check c;
  c.request = request;
  ir::U128 local = 0, remote = 0;
  if (!resolve_addresses(request, c, local, remote, error)) return std::nullopt;
  c.client = request.role == Side::Client ? local : remote;
  c.server = request.role == Side::Client ? remote : local;
  c.profile = std::move(profile);
  note_unnamed_interfaces(policy, request, c);
  analysis::StateTable state;
  for (std::size_t i = 0; i < c.profile.legs.size(); ++i) {
    const Leg& leg = c.profile.legs[i];
    analysis::Packet first = first_packet(c, leg);
    Side other = leg.starts == Side::Client ? Side::Server : Side::Client;
    c.rows.push_back(judge(policy, c, state, i, first, leg.starts));
    if (!leg.replies) continue;
    if (!c.rows.back().passed()) {
      Row not_sent;
      not_sent.leg = i;
      not_sent.reply = true;
      not_sent.sender = other;
      not_sent.outcome = Row::Outcome::NotSent;
      c.rows.push_back(std::move(not_sent));
      continue;
    }
    c.rows.push_back(judge(policy, c, state, i, analysis::reply_to(first), other));
    c.rows.back().reply = true;
  }
  return c;
}

std::optional<diag::Location> deciding_location(const ir::Policy& policy, const Judgement& j) {
  const analysis::Verdict& v = j.verdict;
  if (v.by == analysis::Verdict::By::Rule) return policy.rules.at(static_cast<std::size_t>(v.rule)).origin;
  if (v.by == analysis::Verdict::By::Default) return policy.default_for(j.packet.direction).origin;
  return std::nullopt;
}

}  // namespace rulec::vpn
