// The packet syntax of `rulec trace` and of witness packets.
#include "analysis/packet.hpp"

#include <fmt/format.h>

#include <cctype>
#include <sstream>

#include "semantics/catalog.hpp"

namespace rulec::analysis {
namespace {

/// A tiny cursor over the packet text that knows its column.
struct Cursor {
  const std::string& s;
  std::size_t i = 0;
  void blanks() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  std::string word() {
    blanks();
    std::size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
      ++i;
    return s.substr(b, i - b);
  }
  bool eat(std::string_view t) {
    blanks();
    if (s.compare(i, t.size(), t) != 0) return false;
    i += t.size();
    return true;
  }
  std::string fail(const std::string& what) const { return fmt::format("column {}: {}", i + 1, what); }
};

bool parse_endpoint(Cursor& c, ir::Family& fam, ir::U128& addr, std::uint16_t& port, bool& has_port,
                    std::string& error) {
  c.blanks();
  std::string host;
  std::string port_text;
  if (c.i < c.s.size() && c.s[c.i] == '[') {
    auto close = c.s.find(']', c.i);
    if (close == std::string::npos) {
      error = c.fail("expected ']' after the IPv6 address");
      return false;
    }
    host = c.s.substr(c.i + 1, close - c.i - 1);
    c.i = close + 1;
    if (c.i < c.s.size() && c.s[c.i] == ':') {
      ++c.i;
      port_text = c.word();
    }
  } else {
    std::size_t b = c.i;
    while (c.i < c.s.size() && (std::isxdigit(static_cast<unsigned char>(c.s[c.i])) || c.s[c.i] == '.' || c.s[c.i] == ':'))
      ++c.i;
    host = c.s.substr(b, c.i - b);
    auto colon = host.find(':');
    if (colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {  // a.b.c.d:port
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  auto parsed = ir::parse_address(host);
  if (!parsed) {
    error = c.fail(fmt::format("expected an address, found '{}'", host));
    return false;
  }
  fam = parsed->first;
  addr = parsed->second;
  has_port = !port_text.empty();
  if (has_port) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port_text) > 65535) {
      error = c.fail(fmt::format("expected a port 0-65535, found '{}'", port_text));
      return false;
    }
    port = static_cast<std::uint16_t>(std::stoul(port_text));
  }
  return true;
}

}  // namespace

std::optional<Packet> parse_packet(const std::string& text, std::string& error) {
  Cursor c{text};
  Packet p;
  std::string w = c.word();
  if (w == "in" || w == "out") {
    p.direction = w == "in" ? ir::Direction::In : ir::Direction::Out;
  } else {
    error = c.fail("expected 'in' or 'out' first");
    return std::nullopt;
  }
  std::size_t save = c.i;
  w = c.word();
  if (w == "on") {
    p.interface = c.word();
    if (p.interface.empty()) {
      error = c.fail("expected an interface name after 'on'");
      return std::nullopt;
    }
    w = c.word();
  } else {
    c.i = save;
    w = c.word();
  }
  std::size_t protocol_at = c.i - w.size();
  if (w.empty()) {
    error = c.fail("expected a protocol (tcp, udp, gre, esp, icmp, ... or a number)");
    return std::nullopt;
  }
  if (std::isdigit(static_cast<unsigned char>(w[0]))) {
    if (w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos || std::stoul(w) > 255) {
      error = c.fail(fmt::format("protocol number '{}' is outside 0-255", w));
      return std::nullopt;
    }
    p.protocol = static_cast<std::uint8_t>(std::stoul(w));
  } else if (auto n = semantics::protocol_by_name(w)) {
    p.protocol = *n;
  } else {
    error = c.fail(fmt::format("unknown protocol '{}'", w));
    return std::nullopt;
  }
  ir::Family sf{}, df{};
  bool sp = false, dp = false;
  if (!parse_endpoint(c, sf, p.src, p.sport, sp, error)) return std::nullopt;
  if (!c.eat("->")) {
    error = c.fail("expected '->' between source and destination");
    return std::nullopt;
  }
  if (!parse_endpoint(c, df, p.dst, p.dport, dp, error)) return std::nullopt;
  if (sf != df) {
    error = c.fail("source and destination are of different address families");
    return std::nullopt;
  }
  p.family = sf;
  bool ports = ir::proto::has_ports(p.protocol);
  if (ports && (!sp || !dp)) {
    error = c.fail("tcp, udp and sctp packets need both ports (ADDR:PORT)");
    return std::nullopt;
  }
  if (!ports && (sp || dp)) {
    error = c.fail("only tcp, udp and sctp packets have ports");
    return std::nullopt;
  }
  if (c.eat("type")) {
    if (!ir::proto::is_icmp(p.protocol)) {
      error = c.fail("only icmp and icmpv6 packets have a type");
      return std::nullopt;
    }
    std::string t = c.word();
    if (!t.empty() && std::isdigit(static_cast<unsigned char>(t[0])) && t.size() <= 3 &&
        t.find_first_not_of("0123456789") == std::string::npos && std::stoul(t) <= 255) {
      p.icmp_type = static_cast<std::uint8_t>(std::stoul(t));
    } else if (auto n = semantics::icmp_type_by_name(t, p.protocol == ir::proto::icmpv6)) {
      p.icmp_type = *n;
    } else {
      error = c.fail(fmt::format("unknown ICMP type '{}'", t));
      return std::nullopt;
    }
  } else if (ir::proto::is_icmp(p.protocol)) {
    p.icmp_type = p.protocol == ir::proto::icmp ? 8 : 128;  // echo-request
  }
  c.blanks();
  if (c.i != text.size()) {
    error = c.fail("unexpected text after the packet");
    return std::nullopt;
  }
  if (p.family == ir::Family::Inet6 && p.protocol == ir::proto::icmp) {
    c.i = protocol_at;
    error = c.fail("icmp is IPv4's; use icmpv6 with IPv6 addresses");
    return std::nullopt;
  }
  return p;
}

std::string format_packet(const Packet& p) {
  std::string out = ir::to_string(p.direction);
  if (!p.interface.empty()) out += " on " + p.interface;
  std::string_view name = semantics::protocol_name(p.protocol);
  out += " " + (name.empty() ? std::to_string(p.protocol) : std::string(name));
  bool v6 = p.family == ir::Family::Inet6;
  auto endpoint = [&](ir::U128 a, std::uint16_t port) {
    std::string addr = ir::format_address(p.family, a);
    if (!ir::proto::has_ports(p.protocol)) return addr;
    return (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
  };
  out += " " + endpoint(p.src, p.sport) + " -> " + endpoint(p.dst, p.dport);
  if (ir::proto::is_icmp(p.protocol)) out += " type " + std::to_string(p.icmp_type);
  return out;
}

Packet reply_to(const Packet& p) {
  Packet r = p;
  r.direction = p.direction == ir::Direction::In ? ir::Direction::Out : ir::Direction::In;
  std::swap(r.src, r.dst);
  std::swap(r.sport, r.dport);
  if (p.protocol == ir::proto::icmp && p.icmp_type == 8) r.icmp_type = 0;
  if (p.protocol == ir::proto::icmpv6 && p.icmp_type == 128) r.icmp_type = 129;
  return r;
}

}  // namespace rulec::analysis
