// VPN profiles: what a VPN session sends through a firewall, as data.
//
// A profile is a list of legs. Each leg is one flow a working session needs
// (PPTP: TCP 1723 for control, GRE for the tunnel): its protocol, the port
// on the server side, which side sends the first packet, whether replies
// must come back, and what an end user sees when the leg is blocked. The
// VPN check (check.hpp) turns legs into concrete packets and judges them with
// the reference evaluator. Profiles a policy declares (`vpn NAME = { ... }`,
// ir::Policy::vpns) are read through the same type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diag/source.hpp"
#include "ir/ir.hpp"

namespace rulec::vpn {

/// The side of a VPN session that sends a leg's first packet.
enum class Side : std::uint8_t { Client, Server };
const char* to_string(Side s);

/// One flow a VPN session needs.
struct Leg {
  std::uint8_t protocol = ir::proto::tcp;
  /// The port the receiving side listens on: the server's, for a leg the
  /// client starts (0 for protocols without ports, and for a declared leg
  /// without a port: then --port / `port N` supplies it).
  std::uint16_t port = 0;
  /// Source port of the side that starts the leg; nullopt for an ephemeral one.
  std::optional<std::uint16_t> source_port;
  bool port_configurable = false;  ///< --port replaces `port`
  Side starts = Side::Client;
  bool replies = true;  ///< replies must come back for the session to work
  std::string purpose;  ///< "PPTP control channel"
  std::string symptom;  ///< what the user sees when this leg is blocked
};

struct Profile {
  std::string name;         ///< "pptp"
  std::string description;  ///< "PPTP: TCP 1723 (control) and GRE (tunnel)"
  std::vector<Leg> legs;
  std::string note;  ///< extra remark for the report ("UDP 1701 travels inside IPsec"), optional
  bool custom = false;     ///< declared in the policy
  diag::Location origin;   ///< the `vpn NAME = ...` statement of a custom profile
};

/// The built-in profiles, sorted by name.
const std::vector<Profile>& builtin_profiles();

/// The profile named `name`: one the policy declares first (a policy may
/// redefine a built-in name), then a built-in one; nullopt when unknown.
std::optional<Profile> find_profile(const ir::Policy& policy, std::string_view name);

/// Every profile name known to `policy`, built-in and declared, sorted.
std::vector<std::string> profile_names(const ir::Policy& policy);

/// "TCP 1723", "GRE", "UDP 51820", "IP protocol 99".
std::string leg_name(const Leg& leg);

}  // namespace rulec::vpn
