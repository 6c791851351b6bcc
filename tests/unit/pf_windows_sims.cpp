// Small independent models of pf and Windows Firewall, for the backends' tests.
#include "pf_windows_sims.hpp"

#include <algorithm>
#include <sstream>

namespace rulec::testing {

using analysis::Packet;

SimStates::Key SimStates::key(const Packet& p) {
  return {static_cast<int>(p.direction), static_cast<int>(p.family), p.protocol, p.src, p.dst, p.sport, p.dport};
}
bool SimStates::matches(const Packet& p) const { return keys_.count(key(p)) || keys_.count(key(analysis::reply_to(p))); }
void SimStates::add(const Packet& p) { keys_.insert(key(p)); }

namespace {

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<AddrRange> parse_block(const std::string& text) {
  std::string addr = text;
  int prefix = -1;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    addr = text.substr(0, slash);
    prefix = std::stoi(text.substr(slash + 1));
  }
  auto a = ir::parse_address(addr);
  if (!a) return std::nullopt;
  unsigned bits = a->first == ir::Family::Inet ? 32 : 128;
  if (prefix < 0) prefix = static_cast<int>(bits);
  unsigned host = bits - static_cast<unsigned>(prefix);
  ir::U128 mask = host == 128 ? ~ir::U128{0} : (ir::U128{1} << host) - 1;
  return AddrRange{a->first, a->second & ~mask, a->second | mask};
}

bool in_addrs(const std::vector<AddrRange>& set, ir::Family f, ir::U128 a) {
  if (set.empty()) return true;
  return std::any_of(set.begin(), set.end(), [&](const AddrRange& r) { return r.family == f && r.lo <= a && a <= r.hi; });
}

bool in_nums(const NumRanges& set, unsigned v) {
  if (set.empty()) return true;
  return std::any_of(set.begin(), set.end(), [&](auto& r) { return r.first <= v && v <= r.second; });
}

int pf_proto(const std::string& name) {
  static const std::pair<const char*, int> names[] = {{"icmp", 1}, {"tcp", 6},    {"udp", 17},   {"gre", 47},
                                                      {"esp", 50}, {"ah", 51},    {"icmp6", 58}, {"sctp", 132}};
  for (auto& [n, v] : names)
    if (name == n) return v;
  return std::stoi(name);
}

/// Reads `{ a b }` or one word from words[i...].
std::vector<std::string> pf_list(const std::vector<std::string>& w, std::size_t& i) {
  std::vector<std::string> out;
  if (w.at(i) != "{") {
    out.push_back(w.at(i++));
    return out;
  }
  for (++i; w.at(i) != "}"; ++i) out.push_back(w[i]);
  ++i;
  return out;
}

/// A port list: `{ = 80 1000:2000 }`, or one item, which may be two words (`= 80`).
std::vector<std::string> pf_port_words(const std::vector<std::string>& w, std::size_t& i) {
  if (w.at(i) == "=" || w[i] == "<=" || w[i] == ">=") {
    i += 2;
    return {w[i - 2], w.at(i - 1)};
  }
  return pf_list(w, i);
}

NumRanges pf_ports(const std::vector<std::string>& items) {
  NumRanges out;
  for (std::size_t k = 0; k < items.size(); ++k) {
    const std::string& t = items[k];
    if (t == "=" || t == "<=" || t == ">=") {
      unsigned v = static_cast<unsigned>(std::stoul(items.at(++k)));
      out.push_back(t == "=" ? std::pair{v, v} : t == "<=" ? std::pair{0u, v} : std::pair{v, 65535u});
    } else {
      auto colon = t.find(':');
      out.push_back({static_cast<unsigned>(std::stoul(t.substr(0, colon))),
                     static_cast<unsigned>(std::stoul(t.substr(colon + 1)))});
    }
  }
  return out;
}

struct PfParser {
  std::vector<std::pair<std::string, std::vector<AddrRange>>> tables;

  std::vector<AddrRange> addresses(const std::vector<std::string>& w, std::size_t& i) {
    std::vector<AddrRange> out;
    for (const std::string& item : pf_list(w, i)) {
      if (item == "any") return {};
      if (item.front() == '<') {
        for (auto& [name, set] : tables)
          if (name == item) out.insert(out.end(), set.begin(), set.end());
        continue;
      }
      auto b = parse_block(item);
      if (!b) throw std::runtime_error("bad address " + item);
      out.push_back(*b);
    }
    return out;
  }

  PfRule rule(const std::string& line) {
    PfRule r;
    std::string body = line;
    if (auto l = line.find(" label \""); l != std::string::npos) {
      body = line.substr(0, l);
      r.label = line.substr(l + 8, line.size() - l - 9);
      if (line.back() != '"' || r.label.find('"') != std::string::npos) throw std::runtime_error("bad label");
    }
    auto w = split_words(body);
    std::size_t i = 0;
    auto next_is = [&](const char* s) {
      if (i < w.size() && w[i] == s) return ++i, true;
      return false;
    };
    if (next_is("pass")) r.action = ir::Action::Pass;
    else if (next_is("block")) r.action = next_is("drop") ? ir::Action::Block : (next_is("return") ? ir::Action::Reject : throw std::runtime_error("block without drop/return"));
    else throw std::runtime_error("not a rule");
    if (next_is("in")) r.direction = 0;
    else if (next_is("out")) r.direction = 1;
    next_is("log");
    r.quick = next_is("quick");
    if (next_is("on")) r.interfaces = pf_list(w, i);
    if (next_is("inet")) r.family = 0;
    else if (next_is("inet6")) r.family = 1;
    if (next_is("proto"))
      for (const std::string& p : pf_list(w, i)) r.protocols.push_back(pf_proto(p));
    if (!next_is("all")) {
      if (!next_is("from")) throw std::runtime_error("expected from");
      r.src = addresses(w, i);
      if (next_is("port")) r.sport = pf_ports(pf_port_words(w, i));
      if (!next_is("to")) throw std::runtime_error("expected to");
      r.dst = addresses(w, i);
      if (next_is("port")) r.dport = pf_ports(pf_port_words(w, i));
    }
    if (next_is("flags")) {
      if (!next_is("S/SA")) throw std::runtime_error("unexpected flags");
      r.flags_sa = true;
    }
    if (next_is("icmp-type") || next_is("icmp6-type"))
      for (const std::string& t : pf_list(w, i)) r.icmp_types.push_back(std::stoi(t));
    if (next_is("keep")) {
      if (!next_is("state")) throw std::runtime_error("keep what?");
      r.keep_state = true;
    } else if (next_is("no")) {
      if (!next_is("state")) throw std::runtime_error("no what?");
    }
    if (i != w.size()) throw std::runtime_error("trailing words from '" + w[i] + "'");
    if (r.action == ir::Action::Pass && line.find(" state") == std::string::npos)
      throw std::runtime_error("a pass rule without explicit state");
    if (r.flags_sa && (r.action != ir::Action::Pass || !r.keep_state)) throw std::runtime_error("flags on a wrong rule");
    return r;
  }
};

}  // namespace

std::optional<PfSim> PfSim::parse(const std::string& raw, std::string& error) {
  std::string text;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '\n') {
      text += ' ';
      ++i;
    } else {
      text += raw[i];
    }
  }
  PfSim sim;
  PfParser parser;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    try {
      if (line.empty() || line[0] == '#' || line == "set state-policy floating") continue;
      if (line.rfind("table <", 0) == 0) {
        auto w = split_words(line);
        if (w.size() < 5 || w[2] != "const" || w[3] != "{" || w.back() != "}") throw std::runtime_error("bad table");
        std::vector<AddrRange> set;
        for (std::size_t k = 4; k + 1 < w.size(); ++k) set.push_back(*parse_block(w[k]));
        parser.tables.push_back({w[1], set});
        continue;
      }
      sim.rules_.push_back(parser.rule(line));
    } catch (const std::exception& e) {
      error = std::string(e.what()) + " in: " + line;
      return std::nullopt;
    }
  }
  return sim;
}

bool PfSim::matches(const PfRule& r, const Packet& p, bool syn) const {
  if (r.direction >= 0 && r.direction != static_cast<int>(p.direction)) return false;
  if (!r.interfaces.empty() && std::find(r.interfaces.begin(), r.interfaces.end(), p.interface) == r.interfaces.end())
    return false;
  if (r.family >= 0 && r.family != static_cast<int>(p.family)) return false;
  if (!r.protocols.empty() && std::find(r.protocols.begin(), r.protocols.end(), p.protocol) == r.protocols.end())
    return false;
  if (!in_addrs(r.src, p.family, p.src) || !in_addrs(r.dst, p.family, p.dst)) return false;
  if ((!r.sport.empty() || !r.dport.empty()) && !ir::proto::has_ports(p.protocol)) return false;
  if (!in_nums(r.sport, p.sport) || !in_nums(r.dport, p.dport)) return false;
  if (!r.icmp_types.empty() && (!ir::proto::is_icmp(p.protocol) ||
                                std::find(r.icmp_types.begin(), r.icmp_types.end(), p.icmp_type) == r.icmp_types.end()))
    return false;
  if (r.flags_sa && p.protocol == ir::proto::tcp && !syn) return false;
  return true;
}

SimVerdict PfSim::judge(const Packet& p, bool syn, SimStates* states) const {
  if (states && states->matches(p)) return SimVerdict::Pass;
  const PfRule* decided = nullptr;
  for (const PfRule& r : rules_) {
    if (!matches(r, p, syn)) continue;
    decided = &r;
    if (r.quick) break;
  }
  if (!decided) return SimVerdict::Pass;
  if (decided->action == ir::Action::Pass) {
    if (states && decided->keep_state) states->add(p);
    return SimVerdict::Pass;
  }
  return decided->action == ir::Action::Reject ? SimVerdict::Reject : SimVerdict::Block;
}

// ---- Windows -----------------------------------------------------------------

namespace {

bool is_quote(const std::string& s, std::size_t i, std::size_t& len) {
  if (s[i] == '\'') return len = 1, true;
  if (i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      (static_cast<unsigned char>(s[i + 2]) & 0xfc) == 0x98)
    return len = 3, true;
  return false;
}

std::vector<AddrRange> win_addresses(const std::vector<std::string>& items) {
  std::vector<AddrRange> out;
  for (const std::string& item : items) {
    if (auto dash = item.find('-'); dash != std::string::npos) {
      auto lo = ir::parse_address(item.substr(0, dash)), hi = ir::parse_address(item.substr(dash + 1));
      if (!lo || !hi || lo->first != hi->first) throw std::runtime_error("bad range " + item);
      out.push_back({lo->first, lo->second, hi->second});
    } else if (auto b = parse_block(item)) {
      out.push_back(*b);
    } else {
      throw std::runtime_error("bad address " + item);
    }
  }
  return out;
}

NumRanges win_ports(const std::vector<std::string>& items) {
  NumRanges out;
  for (const std::string& item : items) {
    auto dash = item.find('-');
    unsigned lo = static_cast<unsigned>(std::stoul(item.substr(0, dash)));
    out.push_back({lo, dash == std::string::npos ? lo : static_cast<unsigned>(std::stoul(item.substr(dash + 1)))});
  }
  return out;
}

void set_param(WinSimRule& r, const std::string& name, const std::vector<std::string>& v) {
  auto one = [&]() -> const std::string& {
    if (v.size() != 1) throw std::runtime_error("-" + name + " takes one value");
    return v[0];
  };
  if (name == "Group") {
    if (one() != "rulec") throw std::runtime_error("wrong group");
  } else if (name == "Name") r.name = one();
  else if (name == "DisplayName") {
  } else if (name == "Description") r.description = one();
  else if (name == "Direction") r.direction = one() == "Inbound" ? 0 : one() == "Outbound" ? 1 : throw std::runtime_error("direction");
  else if (name == "Action") r.allow = one() == "Allow" ? true : one() == "Block" ? false : throw std::runtime_error("action");
  else if (name == "Protocol") {
    const std::string& p = one();
    r.protocol = p == "TCP" ? 6 : p == "UDP" ? 17 : p == "ICMPv4" ? 1 : p == "ICMPv6" ? 58 : std::stoi(p);
  } else if (name == "LocalAddress") r.local = win_addresses(v);
  else if (name == "RemoteAddress") r.remote = win_addresses(v);
  else if (name == "LocalPort") r.local_ports = win_ports(v);
  else if (name == "RemotePort") r.remote_ports = win_ports(v);
  else if (name == "IcmpType")
    for (const std::string& t : v) r.icmp_types.push_back(std::stoi(t));
  else if (name == "InterfaceAlias") r.interfaces = v;
  else throw std::runtime_error("unknown parameter -" + name);
}

WinSimRule win_rule(const std::string& line, std::size_t pos) {
  WinSimRule r;
  while (pos < line.size()) {
    if (line[pos] != ' ' || line.at(pos + 1) != '-') throw std::runtime_error("expected ' -Parameter'");
    std::size_t end = line.find(' ', pos + 1);
    std::string name = line.substr(pos + 2, end - pos - 2);
    pos = end + 1;
    std::vector<std::string> values;
    std::size_t qlen = 0;
    if (is_quote(line, pos, qlen)) {
      auto v = ps_strings(line, pos);
      if (!v) throw std::runtime_error("bad string after -" + name);
      values = *v;
    } else {
      end = std::min(line.find(' ', pos), line.size());
      values.push_back(line.substr(pos, end - pos));
      pos = end;
    }
    set_param(r, name, values);
  }
  if ((!r.local_ports.empty() || !r.remote_ports.empty()) && r.protocol != 6 && r.protocol != 17)
    throw std::runtime_error("ports on a protocol other than TCP and UDP");
  if (!r.icmp_types.empty() && r.protocol != 1 && r.protocol != 58) throw std::runtime_error("IcmpType without ICMP");
  return r;
}

}  // namespace

std::optional<std::vector<std::string>> ps_strings(const std::string& s, std::size_t& pos) {
  std::vector<std::string> out;
  for (;;) {
    std::size_t len = 0;
    if (pos >= s.size() || !is_quote(s, pos, len)) return std::nullopt;
    pos += len;
    std::string value;
    for (;;) {
      if (pos >= s.size()) return std::nullopt;
      std::size_t q = 0, q2 = 0;
      if (is_quote(s, pos, q)) {
        if (pos + q < s.size() && is_quote(s, pos + q, q2)) {
          value += s.substr(pos, q);
          pos += q + q2;
          continue;
        }
        pos += q;
        break;
      }
      if (s[pos] == '\n') return std::nullopt;
      value += s[pos++];
    }
    out.push_back(value);
    if (pos < s.size() && s[pos] == ',') {
      ++pos;
      continue;
    }
    return out;
  }
}

std::optional<WinSim> WinSim::parse(const std::string& text, std::string& error) {
  WinSim sim;
  std::istringstream in(text);
  const std::string kNew = "$null = New-NetFirewallRule";
  const std::string kProfile = "Set-NetFirewallProfile -Profile Domain,Private,Public -Enabled True";
  for (std::string line; std::getline(in, line);) {
    try {
      if (line.empty() || line[0] == '#' || line == "$ErrorActionPreference = 'Stop'" ||
          line == "Get-NetFirewallRule -Group 'rulec' -ErrorAction SilentlyContinue | Remove-NetFirewallRule")
        continue;
      if (line.rfind(kProfile, 0) == 0) {
        auto w = split_words(line.substr(kProfile.size()));
        for (std::size_t i = 0; i + 1 < w.size(); i += 2) {
          if (w[i] == "-DefaultInboundAction") sim.default_allow[0] = w[i + 1] == "Allow";
          else if (w[i] == "-DefaultOutboundAction") sim.default_allow[1] = w[i + 1] == "Allow";
          else if (w[i] != "-LogAllowed" && w[i] != "-LogBlocked") throw std::runtime_error("unknown profile setting");
        }
        continue;
      }
      if (line.rfind(kNew, 0) != 0) throw std::runtime_error("not a rulec command");
      sim.rules_.push_back(win_rule(line, kNew.size()));
    } catch (const std::exception& e) {
      error = std::string(e.what()) + " in: " + line;
      return std::nullopt;
    }
  }
  return sim;
}

bool WinSim::matches(const WinSimRule& r, const Packet& p) const {
  if (r.direction != static_cast<int>(p.direction)) return false;
  if (!r.interfaces.empty() && std::find(r.interfaces.begin(), r.interfaces.end(), p.interface) == r.interfaces.end())
    return false;
  if (r.protocol >= 0 && r.protocol != p.protocol) return false;
  bool in = p.direction == ir::Direction::In;
  if (!in_addrs(r.local, p.family, in ? p.dst : p.src) || !in_addrs(r.remote, p.family, in ? p.src : p.dst))
    return false;
  if (!in_nums(r.local_ports, in ? p.dport : p.sport) || !in_nums(r.remote_ports, in ? p.sport : p.dport)) return false;
  if (!r.icmp_types.empty() &&
      std::find(r.icmp_types.begin(), r.icmp_types.end(), p.icmp_type) == r.icmp_types.end())
    return false;
  return true;
}

SimVerdict WinSim::judge(const Packet& p, SimStates* states) const {
  if (states && states->matches(p)) return SimVerdict::Pass;
  bool allowed = default_allow[static_cast<int>(p.direction)];
  for (const WinSimRule& r : rules_) {
    if (!matches(r, p)) continue;
    if (!r.allow) return SimVerdict::Block;
    allowed = true;
  }
  if (!allowed) return SimVerdict::Block;
  if (states) states->add(p);
  return SimVerdict::Pass;
}

}  // namespace rulec::testing
