// The rows of the diagnostic code table. Keep them sorted by code.
#include "diag/codes.hpp"

#include <algorithm>

namespace rulec::diag {
namespace {

constexpr CodeInfo kCodes[] = {
    {"RC001", "unreadable-input", "a file named on the command line cannot be read"},
    {"RC100", "syntax-error", "the text does not follow the grammar; the message says what was expected"},
    {"RC101", "too-many-errors", "a file has so many syntax errors that the parser stops reporting them"},
    {"RC102", "unreadable-include", "an included file cannot be read (missing, a directory, not a regular file)"},
    {"RC103", "include-cycle", "a file includes itself, directly or through other files"},
    {"RC104", "repeated-include", "a file is included a second time; the second include adds nothing"},
    {"RC200", "undefined-name", "$name refers to a list that is not defined"},
    {"RC201", "duplicate-name", "a list, service or VPN profile is defined twice"},
    {"RC202", "unused-name", "a list, service or VPN profile is defined but never used"},
    {"RC203", "port-without-ports-protocol", "a port is given for a protocol that has no ports (only tcp, udp and sctp do)"},
    {"RC204", "port-out-of-range", "a port is outside 0-65535, or a range is inverted"},
    {"RC205", "host-bits-set", "an address/prefix has bits set after the prefix"},
    {"RC206", "mixed-families", "one rule mixes IPv4 and IPv6 so that no packet can match"},
    {"RC207", "unknown-protocol", "a protocol name is not known"},
    {"RC208", "unknown-service", "a service name is not known"},
    {"RC209", "no-default", "a direction has no default; packets nothing matches there are passed"},
    {"RC210", "wrong-kind-of-value", "a value of one kind stands where another is expected (an address as a port)"},
    {"RC211", "protocol-out-of-range", "a protocol number is outside 0-255, or an ICMP type outside 0-255"},
    {"RC212", "unknown-icmp-type", "an ICMP type name is not known"},
    {"RC213", "duplicate-default", "a direction has two defaults; the last one counts"},
    {"RC214", "icmp-type-without-icmp", "an icmp-type is given for a rule whose protocol is not icmp or icmpv6"},
    {"RC215", "unknown-vpn-profile", "require vpn names a profile that is not known"},
    {"RC216", "bad-requirement", "a require statement is contradictory (via together with on)"},
    {"RC300", "shadowed-rule", "a rule never decides a packet: earlier 'done' rules or later rules take every packet it matches"},
    {"RC301", "redundant-rule", "removing a rule changes no verdict: other rules or the default decide its packets the same way"},
    {"RC302", "overridden-rule", "a rule without 'done' never takes effect because later rules decide its packets differently"},
    {"RC303", "order-dependent-overlap", "two rules with different actions share packets, so their order decides those packets"},
    {"RC304", "contradictory-rule", "a rule's clauses contradict each other, so it matches no packet"},
    {"RC305", "state-on-block", "'state' on a block or reject rule does nothing: only passed packets create state"},
    {"RC306", "replies-blocked", "a pass rule without 'state' whose replies the policy blocks"},
    {"RC307", "impossible-packets", "a rule matches only packets that never occur (multicast source, loopback address off loopback)"},
    {"RC400", "vpn-blocked", "a required VPN does not work: the first packet of one of its legs is dropped"},
    {"RC401", "vpn-replies-blocked", "a required VPN does not work: replies of one of its legs are dropped (often a pass without state)"},
    {"RC402", "vpn-unknown-interface", "a require statement names an interface the policy never mentions"},
    {"RC501", "unsupported-by-target", "the target cannot express a feature this rule uses"},
    {"RC510", "bad-interface-name", "an interface name cannot be a Linux interface name (1-15 letters, digits, '.', '_', '-')"},
    {"RC511", "label-altered", "a label has characters the target cannot carry; they are replaced in the output"},
    {"RC512", "conntrack-icmp-state", "Linux conntrack keeps ICMP state per echo id, not per pair of hosts as the reference"},
    {"RC513", "conntrack-gre-state", "Linux conntrack tracks enhanced GRE only through the PPTP helper on TCP 1723 (IPv4)"},
    {"RC514", "iptables-protocol-zero", "iptables cannot match IP protocol 0: to iptables, -p 0 means any protocol"},
    {"RC515", "conntrack-lost-in-state", "Linux keeps no state for a forwarded packet the in rules pass with state and the out rules drop"},
    {"RC540", "pf-label-rewritten", "a label holds characters pf cannot carry literally, or is longer than 63 bytes; pf gets a cleaned copy"},
    {"RC541", "pf-unnamed-interfaces", "a rule matches interfaces the policy never names, which pf cannot write in one rule"},
    {"RC542", "pf-bad-interface-name", "an interface name cannot be written in pf.conf"},
    {"RC543", "pf-address-without-family", "a rule has addresses but no single address family"},
    {"RC550", "windows-always-stateful", "Windows keeps state for every allowed connection, so replies the policy drops would pass"},
    {"RC551", "windows-no-reject", "Windows Firewall cannot reject; a reject rule or default drops silently there"},
    {"RC552", "windows-log-per-profile", "Windows Firewall logs per profile, not per rule; the profile log is turned on instead"},
    {"RC553", "windows-sctp-ports", "Windows Firewall matches ports only for TCP and UDP; SCTP packets a rule with ports decides are blocked there"},
    {"RC554", "windows-too-many-rules", "the order-free Windows rule set would be too large or take too long to compute (over 200,000 rules before or after, one rule's packets in over 20,000 pieces, or over two million pieces in all)"},
    {"RC555", "netsh-named-interface", "netsh advfirewall cannot name an interface, and the rule set needs one"},
    {"RC556", "windows-unnamed-interfaces", "under a default of Allow, Windows cannot block on interfaces the policy never names while passing on a named one"},
};

}  // namespace

std::span<const CodeInfo> all_codes() { return kCodes; }

const CodeInfo* find_code(std::string_view code) {
  auto it = std::lower_bound(std::begin(kCodes), std::end(kCodes), code,
                             [](const CodeInfo& c, std::string_view k) { return std::string_view(c.code) < k; });
  return it != std::end(kCodes) && it->code == code ? &*it : nullptr;
}

}  // namespace rulec::diag
