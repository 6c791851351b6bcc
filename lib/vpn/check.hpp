// The VPN check: would a VPN session get through this policy, leg by leg?
//
// Every leg of a profile (profiles.hpp) becomes concrete packets, judged by
// the reference evaluator (analysis::evaluate) with one state table for the
// session, so `state` decides whether replies come back exactly as it does
// everywhere else. Two topologies:
//   - host: this machine is the VPN client or server; packets it sends are
//     judged `out`, packets it receives `in` (on one interface, or any);
//   - router (`via IN:OUT`): the client is inside (behind IN) and the server
//     outside (behind OUT), or the other way round with role server. A
//     forwarded packet is judged twice: in on the interface it arrives on,
//     then out on the one it leaves by; a packet dropped on the way in never
//     reaches the second judgement.
// The local side (the host, or the inside machine) is 192.0.2.7 and the
// remote side the peer address, 203.0.113.10 unless given (2001:db8::7 for
// the local side of an IPv6 peer). Clients send from port 50000 unless the
// protocol fixes the port (IKE: 500 -> 500).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/evaluator.hpp"
#include "ir/ir.hpp"
#include "vpn/profiles.hpp"

namespace rulec::vpn {

/// What to check: the options of `rulec check --vpn` and of `require vpn`.
struct Request {
  std::string profile;
  /// The host's role; through a router, the role of the inside machine.
  Side role = Side::Client;
  std::string via_in, via_out;  ///< both empty: the host itself is the VPN end
  std::string on;               ///< host topology: the interface, "" for any
  std::optional<std::string> peer;  ///< the remote side's address
  std::optional<std::uint16_t> port;  ///< replaces the port of configurable legs

  bool via() const { return !via_in.empty() || !via_out.empty(); }
  /// The request a `require vpn ...` statement makes.
  static Request from(const ir::Requirement& r);
};

/// One packet judged by the evaluator at one point of its path.
struct Judgement {
  analysis::Packet packet;
  analysis::Verdict verdict;
};

/// One leg in one direction: the first packet (request) or its reply.
struct Row {
  enum class Outcome { Pass, Block, Reject, NotSent };
  std::size_t leg = 0;  ///< index into Check::profile.legs
  bool reply = false;   ///< false: the packet that starts the leg
  Side sender = Side::Client;
  /// One judgement on a host, two through a router (in, then out); fewer
  /// when an earlier judgement drops the packet, none when NotSent.
  std::vector<Judgement> hops;
  /// NotSent: a reply to a request that was dropped.
  Outcome outcome = Outcome::Pass;

  bool passed() const { return outcome == Outcome::Pass; }
  /// The judgement that dropped the packet; nullptr when it passed or was not sent.
  const Judgement* blocking() const;
};

const char* to_string(Row::Outcome o);

/// The answer: every leg in both directions.
struct Check {
  Profile profile;  ///< with --port applied
  Request request;
  ir::Family family = ir::Family::Inet;
  ir::U128 client = 0, server = 0;
  std::vector<Row> rows;
  /// Remarks that do not change the verdict (an interface the policy never names).
  std::vector<std::string> remarks;

  /// True when every row passes: the VPN session works.
  bool works() const;
};

/// Why a request could not be checked.
struct CheckError {
  enum class Kind { UnknownProfile, BadRequest };
  Kind kind = Kind::BadRequest;
  std::string message;
  std::string suggestion;  ///< a close profile name for "did you mean", or ""
};

/// Runs the check. Returns nullopt and fills `error` on bad input (unknown
/// profile, bad peer address, `via` with `on`, --port on fixed ports, ...).
std::optional<Check> check_vpn(const ir::Policy& policy, const Request& request, CheckError& error);

/// The same for a profile given directly (request.profile is not looked up).
std::optional<Check> check_profile(const ir::Policy& policy, Profile profile, const Request& request,
                                   CheckError& error);

/// Where the rule or default that decided a judgement is written; nullopt
/// when state decided or no default exists.
std::optional<diag::Location> deciding_location(const ir::Policy& policy, const Judgement& j);

}  // namespace rulec::vpn
