// The rows of the built-in catalogue.
#include "semantics/catalog.hpp"

#include <algorithm>

namespace rulec::semantics {
namespace {

constexpr NamedNumber kProtocols[] = {
    {"icmp", 1},   {"igmp", 2},    {"ipip", 4},   {"tcp", 6},       {"egp", 8},      {"udp", 17},
    {"ipv6", 41},  {"rsvp", 46},   {"gre", 47},   {"esp", 50},      {"ah", 51},      {"icmpv6", 58},
    {"ipv6-icmp", 58}, {"eigrp", 88}, {"ospf", 89}, {"pim", 103},  {"vrrp", 112},   {"l2tp", 115},
    {"sctp", 132}, {"udplite", 136}, {"dccp", 33},
};

constexpr NamedNumber kPorts[] = {
    {"ftp-data", 20}, {"ftp", 21},       {"ssh", 22},         {"telnet", 23},     {"smtp", 25},
    {"domain", 53},   {"dns", 53},       {"bootps", 67},      {"bootpc", 68},     {"tftp", 69},
    {"http", 80},     {"www", 80},       {"kerberos", 88},    {"pop3", 110},      {"ntp", 123},
    {"netbios-ns", 137}, {"netbios-ssn", 139}, {"imap", 143}, {"snmp", 161},      {"snmp-trap", 162},
    {"bgp", 179},     {"ldap", 389},     {"https", 443},      {"microsoft-ds", 445}, {"smtps", 465},
    {"isakmp", 500},  {"syslog", 514},   {"submission", 587}, {"ldaps", 636},     {"imaps", 993},
    {"pop3s", 995},   {"openvpn", 1194}, {"l2tp", 1701},      {"pptp", 1723},     {"radius", 1812},
    {"mysql", 3306},  {"rdp", 3389},     {"ipsec-nat-t", 4500}, {"sip", 5060},    {"postgresql", 5432},
    {"http-alt", 8080}, {"wireguard", 51820},
};

constexpr NamedNumber kIcmpTypes[] = {
    {"echo-reply", 0},  {"unreachable", 3},  {"destination-unreachable", 3}, {"source-quench", 4},
    {"redirect", 5},    {"echo-request", 8}, {"router-advertisement", 9},    {"router-solicitation", 10},
    {"time-exceeded", 11}, {"parameter-problem", 12}, {"timestamp-request", 13}, {"timestamp-reply", 14},
};

constexpr NamedNumber kIcmp6Types[] = {
    {"unreachable", 1},   {"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3},
    {"parameter-problem", 4}, {"echo-request", 128},      {"echo-reply", 129},   {"router-solicitation", 133},
    {"router-advertisement", 134}, {"neighbor-solicitation", 135}, {"neighbor-advertisement", 136},
    {"redirect", 137},
};

template <std::size_t N>
std::optional<std::uint16_t> find(const NamedNumber (&table)[N], std::string_view name) {
  for (const NamedNumber& n : table)
    if (name == n.name) return n.number;
  return std::nullopt;
}

ServiceLeg leg(std::uint8_t proto, std::vector<std::pair<std::uint16_t, std::uint16_t>> ports = {}) {
  return {proto, std::move(ports)};
}
std::vector<std::pair<std::uint16_t, std::uint16_t>> port(std::uint16_t p) { return {{p, p}}; }

std::vector<BuiltinService> make_services() {
  constexpr std::uint8_t tcp = 6, udp = 17, gre = 47, esp = 50;
  return {
      {"dns", "DNS over UDP and TCP 53", {leg(udp, port(53)), leg(tcp, port(53))}},
      {"ftp", "FTP control, TCP 21", {leg(tcp, port(21))}},
      {"http", "HTTP, TCP 80", {leg(tcp, port(80))}},
      {"https", "HTTPS, TCP 443 (and QUIC, UDP 443)", {leg(tcp, port(443)), leg(udp, port(443))}},
      {"ikev2", "IKEv2 VPN: UDP 500 and 4500, ESP", {leg(udp, port(500)), leg(udp, port(4500)), leg(esp)}},
      {"imaps", "IMAP over TLS, TCP 993", {leg(tcp, port(993))}},
      {"ipsec", "IPsec: IKE UDP 500, NAT-T UDP 4500, ESP", {leg(udp, port(500)), leg(udp, port(4500)), leg(esp)}},
      {"l2tp", "L2TP/IPsec VPN: UDP 500, 4500 and 1701, ESP",
       {leg(udp, port(500)), leg(udp, port(4500)), leg(esp), leg(udp, port(1701))}},
      {"ntp", "NTP, UDP 123", {leg(udp, port(123))}},
      {"openvpn", "OpenVPN, UDP 1194", {leg(udp, port(1194))}},
      {"openvpn-tcp", "OpenVPN over TCP 1194", {leg(tcp, port(1194))}},
      {"pptp", "PPTP VPN: TCP 1723 and GRE (IP protocol 47)", {leg(tcp, port(1723)), leg(gre)}},
      {"rdp", "Remote Desktop, TCP and UDP 3389", {leg(tcp, port(3389)), leg(udp, port(3389))}},
      {"smtp", "SMTP, TCP 25", {leg(tcp, port(25))}},
      {"ssh", "SSH, TCP 22", {leg(tcp, port(22))}},
      {"sstp", "SSTP VPN, TCP 443", {leg(tcp, port(443))}},
      {"submission", "mail submission, TCP 587", {leg(tcp, port(587))}},
      {"wireguard", "WireGuard VPN, UDP 51820", {leg(udp, port(51820))}},
  };
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::uint8_t> protocol_by_name(std::string_view name) {
  auto n = find(kProtocols, name);
  if (!n) return std::nullopt;
  return static_cast<std::uint8_t>(*n);
}

std::string_view protocol_name(unsigned number) {
  for (const NamedNumber& n : kProtocols)
    if (n.number == number) return n.name;
  return {};
}

std::optional<std::uint16_t> port_by_name(std::string_view name) { return find(kPorts, name); }

std::optional<std::uint8_t> icmp_type_by_name(std::string_view name, bool v6) {
  auto n = v6 ? find(kIcmp6Types, name) : find(kIcmpTypes, name);
  if (!n) return std::nullopt;
  return static_cast<std::uint8_t>(*n);
}

const std::vector<BuiltinService>& builtin_services() {
  static const std::vector<BuiltinService> services = make_services();
  return services;
}

const BuiltinService* builtin_service(std::string_view name) {
  for (const BuiltinService& s : builtin_services())
    if (name == s.name) return &s;
  return nullptr;
}

std::span<const NamedNumber> protocol_names() { return kProtocols; }
std::span<const NamedNumber> port_names() { return kPorts; }

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const std::string& c : candidates) {
    if (word.size() > 64) break;
    std::size_t d = edit_distance(word, c);
    if (d < best_d || (d == best_d && !best.empty() && c < best)) {
      best_d = d;
      best = c;
    }
  }
  if (best.empty() && word.size() >= 2)
    for (const std::string& c : candidates)
      if (c.rfind(word, 0) == 0) return c;
  return best_d <= 2 && best_d < std::max<std::size_t>(word.size(), 2) ? best : std::string();
}

}  // namespace rulec::semantics
