// A concrete packet, as the evaluator and `rulec trace` see it.
//
// Packet syntax (documented in the README):
//   DIRECTION [on IFACE] PROTO SRC[:PORT] -> DST[:PORT] [type ICMPTYPE]
//   out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723
//   in on wan gre 198.51.100.2 -> 192.0.2.7
//   out udp [2001:db8::7]:5353 -> [2001:db8::1]:53
//   in icmp 198.51.100.2 -> 192.0.2.7 type echo-request
// PROTO is a name (tcp, udp, gre, ...) or a number 0-255.
#pragma once

#include <optional>
#include <string>

#include "ir/ir.hpp"

namespace rulec::analysis {

struct Packet {
  ir::Direction direction = ir::Direction::In;
  std::string interface;  ///< "" when the packet's interface is none the policy names
  ir::Family family = ir::Family::Inet;
  std::uint8_t protocol = ir::proto::tcp;
  ir::U128 src = 0, dst = 0;
  std::uint16_t sport = 0, dport = 0;  ///< 0 for protocols without ports
  std::uint8_t icmp_type = 0;          ///< 0 for protocols other than ICMP/ICMPv6
  friend bool operator==(const Packet&, const Packet&) = default;
};

/// Parses the packet syntax. On failure returns nullopt and sets `error`
/// to a message with the 1-based column ("column 12: expected '->'").
std::optional<Packet> parse_packet(const std::string& text, std::string& error);

/// Formats a packet in the same syntax (parse_packet(format_packet(p)) == p).
std::string format_packet(const Packet& p);

/// The packet a reply to `p` would be: other direction, addresses and ports swapped.
Packet reply_to(const Packet& p);

}  // namespace rulec::analysis
