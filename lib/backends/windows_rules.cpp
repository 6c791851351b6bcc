// Windows rules from covering boxes: one protocol a rule, addresses per
// family, boxes that differ only in their protocols merged into rules for
// any protocol, and both families in one rule where the addresses are any.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <unordered_map>

#include "backends/windows_internal.hpp"

namespace rulec::backends::windows::detail {
namespace {

namespace values = analysis::values;

void append_u128(std::string& key, U128 v) {
  key += fmt::format("{:x}.{:x},", static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v));
}

void append_key(std::string& key, const std::vector<Interval>& v) {
  for (const Interval& i : v) {
    append_u128(key, i.lo);
    append_u128(key, i.hi);
  }
  key += '|';
}

/// A field's values within [0, max]; empty when that is all of them,
/// nullopt when there are none (a box widened beyond its family's addresses).
std::optional<std::vector<Interval>> field(const Box& b, Field f, U128 max) {
  std::vector<Interval> v = values::intersect(b[f], std::vector<Interval>{{0, max}});
  if (v.empty()) return std::nullopt;
  if (is_full(v, max)) return std::vector<Interval>{};
  return v;
}

/// Turns covering boxes into Windows rules: one protocol a rule, addresses
/// per family, and boxes that differ only in their protocol merged so a
/// whole range of protocols becomes one rule with any protocol.
class RuleBuilder {
 public:
  RuleBuilder(const ir::Policy& p, ir::Direction d) : policy_(p), dir_(d) {}

  void add(const Cover& c) {
    WinRule base;
    base.direction = dir_;
    base.allow = c.allow;
    base.rule = c.rule;
    if (!c.any_interface)
      for (const Interval& i : c.box[Field::Interface])
        for (U128 v = i.lo; v <= i.hi; ++v) base.interfaces.push_back(static_cast<std::uint32_t>(v));
    auto fams = values::intersect(c.box[Field::Family], std::vector<Interval>{{0, 1}});
    bool both = fams.size() == 1 && fams[0].lo == 0 && fams[0].hi == 1;
    if (both && is_full(c.box[Field::Src], ~U128{0}) && is_full(c.box[Field::Dst], ~U128{0})) {
      add_family(c.box, base, std::nullopt);
      return;
    }
    for (const Interval& fi : fams)
      for (U128 f = fi.lo; f <= fi.hi; ++f) add_family(c.box, base, static_cast<ir::Family>(f));
  }

  /// The finished rules.
  std::vector<WinRule> take() {
    for (Group& g : groups_) {
      // ICMP has no IPv6 packets and ICMPv6 no IPv4 ones: "any protocol" may include them.
      std::vector<Interval> any = g.protocols;
      if (g.base.family) {
        U128 other = *g.base.family == ir::Family::Inet ? ir::proto::icmpv6 : ir::proto::icmp;
        any.push_back({other, other});
      }
      std::sort(any.begin(), any.end(), [](auto& a, auto& b) { return a.lo < b.lo; });
      std::sort(g.protocols.begin(), g.protocols.end(), [](auto& a, auto& b) { return a.lo < b.lo; });
      if (is_full(merged(any), 255)) {
        rules_.push_back(g.base);
        continue;
      }
      for (const Interval& i : g.protocols)
        for (U128 pr = i.lo; pr <= i.hi; ++pr) {
          rules_.push_back(g.base);
          rules_.back().protocol = static_cast<int>(pr);
        }
    }
    merge_families();
    return std::move(rules_);
  }

  /// Rules whose SCTP ports Windows cannot match: SCTP is then not
  /// allowed, or blocked on every port (the covering errs towards blocking).
  std::vector<std::int64_t> sctp_ports;

 private:
  struct Group {
    WinRule base;
    std::vector<Interval> protocols;
  };

  static std::vector<Interval> merged(std::vector<Interval> v) {
    std::vector<Interval> out;
    for (const Interval& i : v)
      if (!out.empty() && out.back().hi + 1 >= i.lo)
        out.back().hi = std::max(out.back().hi, i.hi);
      else
        out.push_back(i);
    return out;
  }

  /// True when the box holds packets of protocol `pr` (and family `f`):
  /// the universe gives ports only to TCP/UDP/SCTP, ICMP types only to
  /// ICMP, ICMP only to IPv4 and ICMPv6 only to IPv6.
  static bool holds(const Box& b, unsigned pr, std::optional<ir::Family> f) {
    const std::vector<Interval> zero{{0, 0}};
    if (!ir::proto::has_ports(pr) && (!values::overlap(b[Field::Sport], zero) || !values::overlap(b[Field::Dport], zero)))
      return false;
    if (!ir::proto::is_icmp(pr) && !values::overlap(b[Field::IcmpType], zero)) return false;
    if (f == ir::Family::Inet && pr == ir::proto::icmpv6) return false;
    return !(f == ir::Family::Inet6 && pr == ir::proto::icmp);
  }

  /// Rules for the box within one family (nullopt: both, with no addresses).
  void add_family(const Box& b, WinRule base, std::optional<ir::Family> f) {
    U128 amax = f == ir::Family::Inet ? U128{0xffffffffu} : ~U128{0};
    base.family = f;
    auto src_in = field(b, Field::Src, amax), dst_in = field(b, Field::Dst, amax);
    auto sport_in = field(b, Field::Sport, 65535), dport_in = field(b, Field::Dport, 65535);
    auto types_in = field(b, Field::IcmpType, 255);
    if (!src_in || !dst_in || !sport_in || !dport_in || !types_in) return;  // no packet of this family
    const auto &src = *src_in, &dst = *dst_in, &sport = *sport_in, &dport = *dport_in, &types = *types_in;
    bool in = dir_ == ir::Direction::In;
    base.local = in ? dst : src;
    base.remote = in ? src : dst;
    std::vector<Interval> free;
    for (const Interval& pi : values::intersect(b[Field::Protocol], std::vector<Interval>{{0, 255}}))
      for (U128 pr = pi.lo; pr <= pi.hi; ++pr) {
        if (!holds(b, static_cast<unsigned>(pr), f)) continue;
        bool ports = ir::proto::has_ports(static_cast<unsigned>(pr)) && (!sport.empty() || !dport.empty());
        bool icmp = ir::proto::is_icmp(static_cast<unsigned>(pr)) && !types.empty();
        if (!ports && !icmp) {
          free.push_back({pr, pr});
          continue;
        }
        WinRule r = base;
        r.protocol = static_cast<int>(pr);
        if (ports && pr == ir::proto::sctp) {
          sctp_ports.push_back(base.rule);
          if (!base.allow) rules_.push_back(std::move(r));
          continue;
        }
        if (ports) {
          r.local_ports = in ? dport : sport;
          r.remote_ports = in ? sport : dport;
        }
        if (icmp) r.icmp_types = types;
        rules_.push_back(std::move(r));
      }
    if (free.empty()) return;
    std::string key = fmt::format("{}{}", base.allow ? 'a' : 'b', f ? static_cast<int>(*f) : 2);
    for (std::uint32_t i : base.interfaces) key += fmt::format(",{}", i);
    key += '|';
    append_key(key, base.local);
    append_key(key, base.remote);
    auto [it, added] = index_.try_emplace(std::move(key), groups_.size());
    if (added) groups_.push_back({base, {}});
    auto& protos = groups_[it->second].protocols;
    protos.insert(protos.end(), free.begin(), free.end());
  }

  /// One rule for both families where both would say "any address".
  void merge_families() {
    std::unordered_map<std::string, std::size_t> first;
    std::vector<WinRule> out;
    for (WinRule& r : rules_) {
      if (r.protocol != -1 || !r.local.empty() || !r.remote.empty()) {
        out.push_back(std::move(r));
        continue;
      }
      std::string key = r.allow ? "a" : "b";
      for (std::uint32_t i : r.interfaces) key += fmt::format(",{}", i);
      auto [it, added] = first.try_emplace(key, out.size());
      if (added) {
        out.push_back(std::move(r));
      } else if (out[it->second].family && out[it->second].family != r.family) {
        out[it->second].family.reset();
      } else {
        out.push_back(std::move(r));
      }
    }
    rules_ = std::move(out);
  }

  const ir::Policy& policy_;
  ir::Direction dir_;
  std::vector<WinRule> rules_;
  std::vector<Group> groups_;
  std::unordered_map<std::string, std::size_t> index_;
};


}  // namespace

std::optional<Built> build(const ir::Policy& p, ir::Direction d, const std::optional<std::vector<Cover>>& covers) {
  if (!covers) return std::nullopt;
  std::vector<Cover> merged = *covers;
  coalesce(merged, static_cast<U128>(p.interfaces.size()));
  RuleBuilder b(p, d);
  for (const Cover& c : merged) b.add(c);
  return Built{b.take(), std::move(b.sctp_ports)};
}

}  // namespace rulec::backends::windows::detail
