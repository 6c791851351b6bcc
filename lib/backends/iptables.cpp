// The iptables and ip6tables targets: `iptables-restore` / `ip6tables-restore` input.
//
// Two targets, one per family, each a complete `*raw` and `*filter` table:
// restoring it replaces both tables atomically, and restoring it twice gives
// the same ruleset. The mapping of the semantics (first-match order,
// judgements per direction, state in conntrack mark bits) is in
// linux_rules.hpp. iptables has no sets and no non-terminal "pass", so:
// - there are three judgement chains: rulec-input (the in-judgement, a pass
//   accepts), rulec-forward (the in-judgement of a forwarded packet, a pass
//   goes on to the out-judgement) and rulec-output (the out-judgement, a
//   pass accepts); every rule ends in a verdict or a goto, never falls through;
// - a rule with lists is written as the product of its alternatives when
//   that is small, or else as a cascade of per-rule chains, one field a chain
//   (a chain returns when no alternative matches);
// - `log`, `state` and `reject` are short chains (LOG, CONNMARK, then the verdict).
#include <fmt/format.h>

#include <string_view>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"

namespace rulec::backends {
namespace {

using linux_fw::Alternative;

/// One field of a rule: the packet must match one of `alternatives`, or,
/// when `negated`, none of them.
struct Dimension {
  std::vector<std::string> alternatives;
  bool negated = false;
};

/// A judgement chain and what a pass does in it.
struct Judgement {
  ir::Direction dir;
  const char* chain;      ///< "rulec-input"
  const char* tag;        ///< short name used in the names of its helper chains
  const char* pass;       ///< target of a pass without state
  const char* keep;       ///< target of a pass with state
};

constexpr Judgement kJudgements[] = {
    {ir::Direction::In, "rulec-input", "i", "-j ACCEPT", "-g rulec-keep-input"},
    {ir::Direction::In, "rulec-forward", "f", "-g rulec-output", "-g rulec-keep-forward"},
    {ir::Direction::Out, "rulec-output", "o", "-j ACCEPT", "-g rulec-keep-output"},
};

constexpr std::size_t kMaxProduct = 8;

const char* protocol_name(unsigned p, ir::Family f) {
  switch (p) {
    case ir::proto::tcp: return "tcp";
    case ir::proto::udp: return "udp";
    case ir::proto::sctp: return "sctp";
    case ir::proto::icmp: return f == ir::Family::Inet ? "icmp" : nullptr;
    case ir::proto::icmpv6: return f == ir::Family::Inet6 ? "ipv6-icmp" : nullptr;
    default: return nullptr;
  }
}

std::string protocol_option(unsigned p, ir::Family f) {
  const char* name = protocol_name(p, f);
  return name ? fmt::format("-p {}", name) : fmt::format("-p {}", p);
}

/// Port options for one protocol, split into multiport matches of at most 15 slots.
std::vector<std::string> port_options(const char* which, const ir::FieldSet<std::uint16_t>& set) {
  if (set.empty()) return {""};
  if (set.size() == 1) {
    const auto& r = set[0];
    return {r.lo == r.hi ? fmt::format(" --{} {}", which, r.lo) : fmt::format(" --{} {}:{}", which, r.lo, r.hi)};
  }
  std::vector<std::string> out;
  std::string list;
  unsigned slots = 0;
  for (const auto& r : set) {
    unsigned need = r.lo == r.hi ? 1 : 2;
    if (slots + need > 15) {
      out.push_back(fmt::format(" -m multiport --{}s {}", which, list));
      list.clear();
      slots = 0;
    }
    if (!list.empty()) list += ',';
    list += r.lo == r.hi ? fmt::format("{}", r.lo) : fmt::format("{}:{}", r.lo, r.hi);
    slots += need;
  }
  out.push_back(fmt::format(" -m multiport --{}s {}", which, list));
  return out;
}

class IptablesWriter {
 public:
  IptablesWriter(const ir::Policy& policy, const EmitOptions& options, ir::Family family)
      : policy_(policy), options_(options), family_(family), text_(options, 29), interface_matches_(policy) {}
  std::string write();

 private:
  void judgement(const Judgement& j);
  void rule(const Judgement& j, std::uint32_t index, const Alternative& alt, unsigned alt_no,
            const std::string& target);
  std::vector<Dimension> dimensions(const Judgement& j, const ir::Rule& r, const Alternative& alt);
  Dimension protocol_dimension(const Alternative& alt) const;
  Dimension address_dimension(const char* flag, const char* range_flag, const ir::FieldSet<ir::U128>& set) const;
  void cascade(const std::string& chain, const std::vector<Dimension>& dims, std::size_t i, const std::string& opts,
               const std::string& leaf, const std::string& base, unsigned& counter);
  std::string leaf(const Judgement& j, const ir::Rule& r, std::uint32_t index);
  void declare(const std::string& chain) { fmt::format_to(std::back_inserter(decl_), ":{} - [0:0]\n", chain); }
  void fixed_chains();

  const ir::Policy& policy_;
  const EmitOptions& options_;
  ir::Family family_;
  bool stateful_ = false;
  std::string decl_, rules_;
  std::string comment_;  ///< `-m comment` of the rule being written
  linux_fw::RuleText text_;
  linux_fw::InterfaceMatches interface_matches_;
};

Dimension IptablesWriter::protocol_dimension(const Alternative& alt) const {
  Dimension d;
  d.negated = alt.negate_protocols;
  for (const auto& r : alt.protocols) {
    for (unsigned p = r.lo; p <= r.hi; ++p) {
      if (!alt.icmp_types.empty()) {
        if (!protocol_name(p, family_)) continue;  // ICMPv6 types in IPv4 (or back): no such packet
        const char* type = family_ == ir::Family::Inet ? "--icmp-type" : "--icmpv6-type";
        for (const auto& t : alt.icmp_types)
          for (unsigned v = t.lo; v <= t.hi; ++v)
            d.alternatives.push_back(fmt::format("{} {} {}", protocol_option(p, family_), type, v));
        continue;
      }
      std::string base = protocol_option(p, family_);
      if (alt.sport.empty() && alt.dport.empty()) {
        d.alternatives.push_back(base);
        continue;
      }
      for (const auto& s : port_options("sport", alt.sport))
        for (const auto& dp : port_options("dport", alt.dport)) d.alternatives.push_back(base + s + dp);
    }
  }
  return d;
}

Dimension IptablesWriter::address_dimension(const char* flag, const char* range_flag,
                                            const ir::FieldSet<ir::U128>& set) const {
  Dimension d;
  for (const auto& r : set) {
    auto cidrs = linux_fw::range_to_cidrs(r.lo, r.hi, family_);
    if (cidrs.size() <= 2) {
      for (const auto& c : cidrs) d.alternatives.push_back(fmt::format("{} {}", flag, linux_fw::format_cidr(c, family_)));
    } else {
      d.alternatives.push_back(fmt::format("-m iprange {} {}-{}", range_flag, linux_fw::format_address(family_, r.lo),
                                           linux_fw::format_address(family_, r.hi)));
    }
  }
  return d;
}

std::vector<Dimension> IptablesWriter::dimensions(const Judgement& j, const ir::Rule& r, const Alternative& alt) {
  std::vector<Dimension> dims;
  const auto& iface = interface_matches_(r.match.interfaces);
  if (!iface.any) {
    Dimension d;
    d.negated = iface.negate;
    for (const auto& n : iface.names) d.alternatives.push_back(fmt::format("{} {}", j.dir == ir::Direction::In ? "-i" : "-o", n));
    dims.push_back(std::move(d));
  }
  if (!alt.protocols.empty()) dims.push_back(protocol_dimension(alt));
  if (!r.match.src.empty()) dims.push_back(address_dimension("-s", "--src-range", r.match.src));
  if (!r.match.dst.empty()) dims.push_back(address_dimension("-d", "--dst-range", r.match.dst));
  return dims;
}

std::string IptablesWriter::leaf(const Judgement& j, const ir::Rule& r, std::uint32_t index) {
  std::string verdict;
  switch (r.action) {
    case ir::Action::Pass: verdict = r.state ? j.keep : j.pass; break;
    case ir::Action::Block: verdict = "-j DROP"; break;
    case ir::Action::Reject: verdict = "-j rulec-reject"; break;
  }
  if (!r.log) return verdict;
  std::string chain = fmt::format("rulec-log-{}{}", index, j.tag);
  declare(chain);
  rules_ += "-A ";
  rules_ += chain;
  rules_ += " -j LOG --log-prefix \"";
  text_.log_prefix(rules_, r);
  fmt::format_to(std::back_inserter(rules_), "\"\n-A {} {}\n", chain, verdict);
  return "-j " + chain;
}

/// Writes dims[i..] under `chain`: small products inline, bigger ones as a chain per field.
void IptablesWriter::cascade(const std::string& chain, const std::vector<Dimension>& dims, std::size_t i,
                             const std::string& opts, const std::string& leaf, const std::string& base,
                             unsigned& counter) {
  if (i == dims.size()) {
    fmt::format_to(std::back_inserter(rules_), "-A {}{}{} {}\n", chain, opts, comment_, leaf);
    return;
  }
  const Dimension& d = dims[i];
  if (d.negated && d.alternatives.size() == 1) {
    std::string o = d.alternatives[0];
    return cascade(chain, dims, i + 1, fmt::format("{} ! {}", opts, o), leaf, base, counter);
  }
  std::size_t product = 1;
  bool simple = true;
  for (std::size_t k = i; k < dims.size(); ++k) {
    product *= dims[k].alternatives.size();
    simple = simple && !dims[k].negated && product <= kMaxProduct;
  }
  if (simple) {
    for (const auto& a : d.alternatives) cascade(chain, dims, i + 1, opts + " " + a, leaf, base, counter);
    return;
  }
  std::string sub = fmt::format("{}-{}", base, ++counter);
  declare(sub);
  fmt::format_to(std::back_inserter(rules_), "-A {}{} -j {}\n", chain, opts, sub);
  if (d.negated) {
    for (const auto& a : d.alternatives) fmt::format_to(std::back_inserter(rules_), "-A {} {} -j RETURN\n", sub, a);
    return cascade(sub, dims, i + 1, "", leaf, base, counter);
  }
  for (const auto& a : d.alternatives) cascade(sub, dims, i + 1, " " + a, leaf, base, counter);
}

void IptablesWriter::rule(const Judgement& j, std::uint32_t index, const Alternative& alt, unsigned alt_no,
                          const std::string& target) {
  const ir::Rule& r = policy_.rules[index];
  comment_ = " -m comment --comment \"";
  text_.comment(comment_, r);
  comment_ += '"';
  unsigned counter = 0;
  cascade(j.chain, dimensions(j, r, alt), 0, "", target, fmt::format("rulec-r{}{}{}", index, j.tag, alt_no), counter);
}

void IptablesWriter::judgement(const Judgement& j) {
  declare(j.chain);
  if (stateful_) {
    for (bool original : {true, false})
      fmt::format_to(std::back_inserter(rules_),
                     "-A {} -m conntrack --ctstate ESTABLISHED --ctdir {} -m connmark ! --mark 0/{:#x} {}\n",
                     j.chain, original ? "ORIGINAL" : "REPLY", linux_fw::state_match_bits(j.dir, original), j.pass);
  }
  const auto fam = static_cast<int>(family_);
  for (std::uint32_t i : linux_fw::first_match_order(policy_, j.dir)) {
    const ir::Rule& r = policy_.rules[i];
    int rf = linux_fw::rule_family(r.match);
    if (rf >= 0 && rf != fam) continue;  // the other family's target carries this rule
    auto alts = linux_fw::alternatives(r.match);
    if (alts.empty()) continue;
    std::string target = leaf(j, r, i);
    unsigned n = 0;
    for (const Alternative& alt : alts) rule(j, i, alt, n++, target);
  }
  switch (policy_.default_for(j.dir).action) {
    case ir::Action::Pass: fmt::format_to(std::back_inserter(rules_), "-A {} {}\n", j.chain, j.pass); break;
    case ir::Action::Block: fmt::format_to(std::back_inserter(rules_), "-A {} -j DROP\n", j.chain); break;
    case ir::Action::Reject: fmt::format_to(std::back_inserter(rules_), "-A {} -j rulec-reject\n", j.chain); break;
  }
}

void IptablesWriter::fixed_chains() {
  const bool v4 = family_ == ir::Family::Inet;
  struct Keep {
    const char* chain;
    ir::Direction dir;
    const char* then;
  };
  for (const Keep& k : {Keep{"rulec-keep-input", ir::Direction::In, "-j ACCEPT"},
                        Keep{"rulec-keep-forward", ir::Direction::In, "-g rulec-output"},
                        Keep{"rulec-keep-output", ir::Direction::Out, "-j ACCEPT"}}) {
    if (!stateful_) break;
    declare(k.chain);
    fmt::format_to(std::back_inserter(rules_),
                   "-A {0} -m conntrack --ctdir ORIGINAL -j CONNMARK --or-mark {1:#x}\n"
                   "-A {0} -m conntrack --ctdir REPLY -j CONNMARK --or-mark {2:#x}\n-A {0} {3}\n",
                   k.chain, linux_fw::state_bit(k.dir, true), linux_fw::state_bit(k.dir, false), k.then);
  }
  declare("rulec-reject");
  fmt::format_to(std::back_inserter(rules_),
                 "-A rulec-reject -p tcp -j REJECT --reject-with tcp-reset\n-A rulec-reject -j REJECT --reject-with {}\n",
                 v4 ? "icmp-port-unreachable" : "icmp6-port-unreachable");
  // Connections conntrack creates from an expectation (PPTP's GRE) inherit
  // the control connection's mark: their state bits are cleared first.
  std::string fresh = stateful_ ? fmt::format(" -m conntrack --ctstate RELATED --ctstatus EXPECTED ! -p {} -j CONNMARK "
                                              "--and-mark 0xfffffff0\n",
                                              v4 ? "icmp" : "ipv6-icmp")
                                : "";
  for (const char* base : {"INPUT", "FORWARD", "OUTPUT"})
    if (!fresh.empty()) rules_ += fmt::format("-A {}{}", base, fresh);
  rules_ += fmt::format(
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sent itself\" -j ACCEPT\n"
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sent itself\" -j ACCEPT\n"
      "-A INPUT -j rulec-input\n-A FORWARD -j rulec-forward\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sends\" -j ACCEPT\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sends\" -j ACCEPT\n"
      "-A OUTPUT -j rulec-output\n",
      v4 ? "icmp" : "ipv6-icmp");
}

std::string IptablesWriter::write() {
  for (const ir::Rule& r : policy_.rules) stateful_ = stateful_ || (r.action == ir::Action::Pass && r.state);
  rules_.reserve(policy_.rules.size() * 400 + 4096);
  for (const Judgement& j : kJudgements) judgement(j);
  fixed_chains();
  const char* tool = family_ == ir::Family::Inet ? "iptables-restore" : "ip6tables-restore";
  std::string out = fmt::format(
      "# Generated by rulec. Load with `{} FILE`: it replaces the raw and filter\n"
      "# tables atomically; loading it again gives the same ruleset.\n*raw\n:PREROUTING ACCEPT [0:0]\n"
      ":OUTPUT ACCEPT [0:0]\n",
      tool);
  if (family_ == ir::Family::Inet && linux_fw::needs_pptp_helper(policy_))
    out +=
        "-A PREROUTING -p tcp --dport 1723 -j CT --helper pptp\n"
        "-A OUTPUT -p tcp --dport 1723 -j CT --helper pptp\n";
  out += "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  out += decl_;
  rules_.insert(0, out);  // in place: the output is never held twice
  rules_ += "COMMIT\n";
  return std::move(rules_);
}

class IptablesBackend final : public Backend {
 public:
  explicit IptablesBackend(ir::Family f) : family_(f) {}
  bool emit(const ir::Policy& policy, const EmitOptions& options, std::string& out,
            diag::Sink& sink) const override {
    const char* name = family_ == ir::Family::Inet ? "iptables" : "ip6tables";
    if (!linux_fw::check_policy(policy, options, name, sink)) return false;
    bool ok = true;
    std::uint32_t last = UINT32_MAX;
    for (const ir::Rule& r : policy.rules) {
      if (r.match.protocols.empty() || r.match.protocols[0].lo != 0 || r.source_rule == last) continue;
      last = r.source_rule;
      diag::Diagnostic d{diag::Severity::Error, "RC514",
                         fmt::format("target '{}' cannot match IP protocol 0 (to iptables, -p 0 means any)", name),
                         r.origin};
      d.hint = "compile for nft, or leave protocol 0 out of the rule";
      sink.add(std::move(d));
      ok = false;
    }
    if (!ok) return false;
    out = IptablesWriter(policy, options, family_).write();
    return true;
  }

 private:
  ir::Family family_;
};

}  // namespace

std::unique_ptr<Backend> make_iptables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet); }
std::unique_ptr<Backend> make_ip6tables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet6); }

}  // namespace rulec::backends
