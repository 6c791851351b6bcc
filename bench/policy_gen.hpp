// A generator of realistic policies for benchmarks and stress tests.
//
// generate_policy(n, seed) returns the text of a valid policy (no errors)
// with n rules: a few named lists, both defaults, then rules that mix
// protocols (tcp, udp, icmp, gre, esp, numbers), single ports, ranges and
// lists, IPv4 and IPv6 hosts and networks, directions, interfaces,
// services and every option. The same (n, seed) gives the same text.
#pragma once

#include <cstdint>
#include <string>

namespace rulec::bench {

/// splitmix64: small, fast, and the same everywhere.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

namespace detail {

inline void v4_host(std::string& out, Rng& r) {
  static const char* nets[] = {"192.0.2.", "198.51.100.", "203.0.113."};
  out += nets[r.below(3)];
  out += std::to_string(1 + r.below(254));
}

inline void v4_net(std::string& out, Rng& r) {
  static const char* nets[] = {"192.0.2.", "198.51.100.", "203.0.113."};
  unsigned len = 24 + r.below(7);  // /24../30, aligned so no host bits are set
  unsigned block = 1u << (32 - len);
  out += nets[r.below(3)];
  out += std::to_string((r.below(256) / block) * block);
  out += "/" + std::to_string(len);
}

inline void v6_host(std::string& out, Rng& r) {
  out += "2001:db8:";
  out += std::to_string(r.below(10));
  out += "::";
  out += std::to_string(1 + r.below(9999));
}

inline void ports(std::string& out, Rng& r) {
  static const char* named[] = {"ssh", "https", "http", "smtp", "dns", "ntp"};
  switch (r.below(4)) {
    case 0: out += std::to_string(1 + r.below(65000)); break;
    case 1: {
      unsigned lo = 1024 + r.below(60000);
      out += std::to_string(lo) + "-" + std::to_string(lo + r.below(400));
      break;
    }
    case 2: out += "{ 80, 443, " + std::to_string(8000 + r.below(1000)) + " }"; break;
    default: out += named[r.below(6)];
  }
}

}  // namespace detail

/// The text of a valid policy of `rules` rules.
inline std::string generate_policy(std::size_t rules, std::uint64_t seed = 1) {
  using namespace detail;
  Rng r{seed};
  std::string out;
  out.reserve(rules * 64 + 512);
  out += "# generated policy: " + std::to_string(rules) + " rules, seed " + std::to_string(seed) + "\n";
  out += "office = { 192.0.2.0/24, 198.51.100.0/25 }\n";
  out += "servers = { 203.0.113.10, 203.0.113.11, 203.0.113.12 }\n";
  out += "servers6 = { 2001:db8:1::10, 2001:db8:1::11 }\n";
  out += "web = { 80, 443, 8080-8090 }\n";
  out += "default block in\ndefault pass out\n";
  static const char* actions[] = {"pass", "pass", "pass", "block", "reject"};
  static const char* dirs[] = {"", " in", " out"};
  static const char* ifaces[] = {"", "", " on lan", " on wan", " on dmz", " on eth0.100"};
  static const char* services[] = {"pptp", "ipsec", "ssh", "https", "dns", "wireguard", "openvpn"};
  for (std::size_t i = 0; i < rules; ++i) {
    out += actions[r.below(5)];
    out += dirs[r.below(3)];
    out += ifaces[r.below(6)];
    bool v6 = r.below(5) == 0;
    unsigned kind = r.below(10);
    if (kind < 5) {  // tcp/udp with addresses and ports
      out += r.below(2) ? " protocol tcp" : " protocol udp";
      if (r.below(2)) {
        out += ", from ";
        if (v6) v6_host(out, r);
        else if (r.below(3) == 0) out += "$office";
        else v4_net(out, r);
      }
      out += ", to ";
      if (v6) (r.below(2) ? v6_host(out, r) : (void)(out += "$servers6"));
      else if (r.below(4) == 0) out += "$servers";
      else v4_host(out, r);
      out += " port ";
      if (r.below(6) == 0) out += "$web";
      else ports(out, r);
    } else if (kind < 7) {  // a service
      out += " service ";
      out += services[r.below(7)];
      if (r.below(2)) {
        out += ", to ";
        if (v6) v6_host(out, r);
        else v4_host(out, r);
      }
    } else if (kind == 7) {  // ICMP
      if (v6) out += " protocol icmpv6, icmp-type { echo-request, packet-too-big }";
      else out += " protocol icmp, icmp-type echo-request";
    } else if (kind == 8) {  // GRE, ESP or a protocol number
      static const char* protos[] = {"gre", "esp", "47", "50", "ah", "132"};
      out += " protocol ";
      out += protos[r.below(6)];
      out += ", from ";
      if (v6) v6_host(out, r);
      else v4_host(out, r);
    } else {  // ports only
      out += " to port ";
      ports(out, r);
    }
    unsigned opts = r.below(8);
    if (opts) {
      out += " >>";
      bool first = true;
      auto opt = [&](const char* o) {
        out += first ? " " : ", ";
        out += o;
        first = false;
      };
      if (opts & 1) opt("state");
      if (opts & 2) opt("done");
      if (opts & 4) opt("log");
      if (opts == 7) {
        out += ", label \"rule ";
        out += std::to_string(i);
        out += "\"";
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace rulec::bench
