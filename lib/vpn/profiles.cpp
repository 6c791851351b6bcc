// The built-in VPN profiles and the lookup that also sees declared ones.
#include "vpn/profiles.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "semantics/catalog.hpp"

namespace rulec::vpn {
namespace {

using namespace ir::proto;

constexpr const char* kError809 = "no answer from the server: Windows error 809 (the remote server is not responding)";

Leg leg(std::uint8_t protocol, std::uint16_t port, std::string purpose, std::string symptom) {
  Leg l;
  l.protocol = protocol;
  l.port = port;
  l.purpose = std::move(purpose);
  l.symptom = std::move(symptom);
  return l;
}

/// IKE and NAT-T use the same well-known port on both sides.
Leg ike_leg(std::uint16_t port, std::string purpose, std::string symptom) {
  Leg l = leg(udp, port, std::move(purpose), std::move(symptom));
  l.source_port = port;
  return l;
}

Leg configurable(Leg l) {
  l.port_configurable = true;
  return l;
}

std::vector<Profile> make_profiles() {
  std::vector<Profile> all = {
      {"ikev2",
       "IKEv2/IPsec: UDP 500 (IKE), UDP 4500 (NAT-T) and ESP; which of 4500 and ESP carries the data depends on NAT "
       "on the path, so both must pass",
       {ike_leg(500, "IKE negotiation", kError809),
        ike_leg(4500, "IPsec NAT traversal", "IKE starts, then stops when it moves to UDP 4500: Windows error 809"),
        leg(esp, 0, "IPsec data", "connects, then no traffic passes through the tunnel (ESP is dropped)")},
       ""},
      {"l2tp",
       "L2TP/IPsec without NAT traversal: UDP 500 (IKE) and ESP",
       {ike_leg(500, "IKE negotiation", kError809),
        leg(esp, 0, "IPsec data",
            "IPsec negotiates, then the L2TP tunnel inside ESP never answers: Windows error 809 after a timeout")},
       "UDP 1701 (L2TP) travels inside IPsec: the firewall never sees it on its own"},
      {"l2tp-nat-t",
       "L2TP/IPsec with NAT traversal: UDP 500 (IKE) and UDP 4500 (ESP inside UDP)",
       {ike_leg(500, "IKE negotiation", kError809),
        ike_leg(4500, "IPsec NAT traversal", "IKE starts, then stops when it moves to UDP 4500: Windows error 809")},
       "UDP 1701 (L2TP) travels inside IPsec: the firewall never sees it on its own"},
      {"openvpn",
       "OpenVPN over UDP, port 1194 unless --port says otherwise",
       {configurable(leg(udp, 1194, "OpenVPN tunnel",
                         "the client logs 'TLS key negotiation failed to occur within 60 seconds (check your "
                         "network connectivity)' and never connects"))},
       ""},
      {"openvpn-tcp",
       "OpenVPN over TCP, port 1194 unless --port says otherwise (443 is common)",
       {configurable(leg(tcp, 1194, "OpenVPN tunnel",
                         "the client logs 'TCP: connect to ... failed' (timed out or refused) and keeps retrying"))},
       ""},
      {"pptp",
       "PPTP: TCP 1723 (control) and GRE, IP protocol 47 (tunnel)",
       {leg(tcp, 1723, "PPTP control channel",
            "the connection fails at once: Windows error 800 (unable to establish the VPN connection)"),
        leg(gre, 0, "PPTP tunnel",
            "connects, then hangs at Verifying user name and password; Windows error 806 (older: 721)")},
       ""},
      {"sstp",
       "SSTP: PPP over HTTPS, TCP 443",
       {leg(tcp, 443, "SSTP over HTTPS",
            "the connection fails: Windows error 800 (unable to establish the VPN connection)")},
       ""},
      {"wireguard",
       "WireGuard, UDP 51820 unless --port says otherwise",
       {configurable(leg(udp, 51820, "WireGuard tunnel",
                         "the tunnel looks up but nothing gets through: 'Handshake for peer did not complete after "
                         "5 seconds, retrying'; wg show lists no latest handshake"))},
       ""},
  };
  return all;
}

Profile from_definition(const ir::VpnDefinition& def) {
  Profile p;
  p.name = def.name;
  p.custom = true;
  p.origin = def.origin;
  std::vector<std::string> parts;
  for (const ir::VpnLeg& l : def.legs) {
    Leg g;
    g.protocol = l.protocol;
    g.port = l.port.value_or(0);
    g.port_configurable = ir::proto::has_ports(l.protocol) && !l.port;
    g.purpose = "declared leg";
    std::string what = leg_name(g) + (g.port_configurable ? " (port from --port)" : "");
    g.symptom = fmt::format("the VPN '{}' does not connect: {} does not get through", def.name, what);
    parts.push_back(std::move(what));
    p.legs.push_back(std::move(g));
  }
  p.description = fmt::format("declared in the policy: {}", fmt::join(parts, ", "));
  return p;
}

}  // namespace

const char* to_string(Side s) { return s == Side::Client ? "client" : "server"; }

const std::vector<Profile>& builtin_profiles() {
  static const std::vector<Profile> all = make_profiles();
  return all;
}

std::optional<Profile> find_profile(const ir::Policy& policy, std::string_view name) {
  for (const ir::VpnDefinition& d : policy.vpns)
    if (d.name == name) return from_definition(d);
  for (const Profile& p : builtin_profiles())
    if (p.name == name) return p;
  return std::nullopt;
}

std::vector<std::string> profile_names(const ir::Policy& policy) {
  std::vector<std::string> names;
  for (const Profile& p : builtin_profiles()) names.push_back(p.name);
  for (const ir::VpnDefinition& d : policy.vpns) names.push_back(d.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string leg_name(const Leg& leg) {
  std::string proto(semantics::protocol_name(leg.protocol));
  std::transform(proto.begin(), proto.end(), proto.begin(), [](char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  });
  if (proto.empty()) proto = fmt::format("IP protocol {}", leg.protocol);
  if (!ir::proto::has_ports(leg.protocol) || leg.port == 0) return proto;
  return fmt::format("{} {}", proto, leg.port);
}

}  // namespace rulec::vpn
