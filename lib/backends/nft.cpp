// The nftables target: an `nft -f` script with one `table inet rulec`.
//
// The script first creates the table (a no-op when it exists), deletes it,
// then defines it completely, all in one transaction: loading it replaces
// the previous ruleset atomically, and loading it twice gives the same
// ruleset. The mapping of the semantics (first-match order, judgements per
// direction, state in conntrack mark bits) is in linux_rules.hpp; here it is
// only written out: lists become named sets, protocols `meta l4proto` (so
// GRE and ESP match in both families), `reject` a TCP reset or ICMP port
// unreachable, `log` a log prefix naming the rule.
#include <fmt/format.h>

#include <string_view>
#include <unordered_map>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"

namespace rulec::backends {
namespace {

using linux_fw::Alternative;
using linux_fw::InterfaceMatch;

template <typename T>
bool is_single(const ir::FieldSet<T>& s) {
  return s.size() == 1 && s[0].lo == s[0].hi;
}

class NftWriter {
 public:
  NftWriter(const ir::Policy& policy, const EmitOptions& options)
      : policy_(policy), options_(options), text_(options, 120), interface_matches_(policy) {}
  std::string write();

 private:
  void judgement(ir::Direction dir);
  /// Defines, in first-use order, every named set the rules of `dir` use,
  /// writing no rule: then both judgements can be written at once.
  void collect_sets(ir::Direction dir);
  void rule(ir::Direction dir, const ir::Rule& r, const Alternative& alt);
  void interfaces(ir::Direction dir, const InterfaceMatch& m);
  void protocols(const Alternative& alt);
  void addresses(ir::Family f, const char* which, const ir::FieldSet<ir::U128>& set);
  /// A single value or range inline; more as a named set of `type`, shared when equal.
  template <typename T>
  void value_set(const ir::FieldSet<T>& set, const char* type);
  /// Appends `@name` of the set of `type` holding `elements`, defining it on first use.
  void named_set(const char* type, const std::string& elements);
  void verdict(ir::Direction dir, const ir::Rule& r);
  void fixed_chains();
  void base_chains();

  const ir::Policy& policy_;
  const EmitOptions& options_;
  bool stateful_ = false;
  std::string sets_, chains_;
  std::string* o_ = &chains_;
  std::unordered_map<std::string, std::string> set_names_;
  linux_fw::RuleText text_;
  linux_fw::InterfaceMatches interface_matches_;
  bool collecting_ = false;                ///< in collect_sets()
  std::vector<Alternative> alternatives_;  ///< of the rule being written
  std::string elements_, key_;             ///< scratch for named sets
};

template <typename T>
void NftWriter::value_set(const ir::FieldSet<T>& set, const char* type) {
  auto one = [](std::string& o, const ir::Range<T>& r) {
    linux_fw::append_number(o, r.lo);
    if (r.lo == r.hi) return;
    o += '-';
    linux_fw::append_number(o, r.hi);
  };
  if (set.size() == 1) {
    if (!collecting_) one(*o_, set[0]);
    return;
  }
  // Named rather than anonymous sets: the kernel names each anonymous set by
  // scanning the table's sets, which makes loading many of them quadratic.
  elements_.clear();
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (i) elements_ += ", ";
    one(elements_, set[i]);
  }
  named_set(type, elements_);
}

void NftWriter::named_set(const char* type, const std::string& elements) {
  key_.assign(type);
  key_ += '|';
  key_ += elements;
  auto it = set_names_.find(key_);
  if (it == set_names_.end()) {
    it = set_names_.emplace(key_, "").first;
    it->second = fmt::format("{}_{}", std::string_view(type).substr(0, std::string_view(type).find('_')),
                             set_names_.size());
    bool interval = std::string_view(type) != "ifname";
    fmt::format_to(std::back_inserter(sets_), "\tset {} {{\n\t\ttype {};{}\n\t\telements = {{ {} }}\n\t}}\n",
                   it->second, type, interval ? " flags interval;" : "", elements);
  }
  *o_ += '@';
  *o_ += it->second;
}

/// One address range: a CIDR block when it is one, else `lo-hi`.
void append_range(std::string& out, ir::Family f, const ir::Range<ir::U128>& r) {
  if (auto cidr = linux_fw::single_cidr(r.lo, r.hi, f)) return linux_fw::append_cidr(out, *cidr, f);
  linux_fw::append_address(out, f, r.lo);
  out += '-';
  linux_fw::append_address(out, f, r.hi);
}

void NftWriter::addresses(ir::Family f, const char* which, const ir::FieldSet<ir::U128>& set) {
  if (set.empty()) return;
  *o_ += f == ir::Family::Inet ? "ip " : "ip6 ";
  *o_ += which;
  *o_ += ' ';
  if (set.size() == 1) {
    if (!collecting_) append_range(*o_, f, set[0]);
  } else {
    elements_.clear();
    for (const auto& r : set) {
      if (!elements_.empty()) elements_ += ", ";
      append_range(elements_, f, r);
    }
    named_set(f == ir::Family::Inet ? "ipv4_addr" : "ipv6_addr", elements_);
  }
  *o_ += ' ';
}

void NftWriter::interfaces(ir::Direction dir, const InterfaceMatch& m) {
  if (m.any) return;
  *o_ += dir == ir::Direction::In ? "iifname " : "oifname ";
  if (m.negate) *o_ += "!= ";
  if (m.names.size() == 1) {
    *o_ += '"';
    *o_ += m.names[0];
    *o_ += "\" ";
    return;
  }
  elements_.clear();
  for (std::size_t i = 0; i < m.names.size(); ++i) {
    if (i) elements_ += ", ";
    elements_ += '"';
    elements_ += m.names[i];
    elements_ += '"';
  }
  named_set("ifname", elements_);
  *o_ += ' ';
}

void NftWriter::protocols(const Alternative& alt) {
  const bool ports = !alt.sport.empty() || !alt.dport.empty();
  if (!alt.icmp_types.empty()) {
    bool v4 = alt.protocols[0].lo == ir::proto::icmp;
    *o_ += v4 ? "icmp type " : "icmpv6 type ";
    value_set(alt.icmp_types, v4 ? "icmp_type" : "icmpv6_type");
    *o_ += ' ';
    return;
  }
  const char* th = "th";
  if (ports && is_single(alt.protocols)) {
    unsigned p = alt.protocols[0].lo;
    th = p == ir::proto::tcp ? "tcp" : p == ir::proto::udp ? "udp" : "sctp";
  } else if (!alt.protocols.empty()) {
    *o_ += alt.negate_protocols ? "meta l4proto != " : "meta l4proto ";
    value_set(alt.protocols, "inet_proto");
    *o_ += ' ';
  }
  auto port_set = [&](const char* which, const ir::FieldSet<std::uint16_t>& s) {
    if (s.empty()) return;
    *o_ += th;
    *o_ += ' ';
    *o_ += which;
    *o_ += ' ';
    value_set(s, "inet_service");
  };
  port_set("sport", alt.sport);
  if (!alt.sport.empty()) *o_ += ' ';
  port_set("dport", alt.dport);
  if (!alt.dport.empty()) *o_ += ' ';
}

void NftWriter::verdict(ir::Direction dir, const ir::Rule& r) {
  if (r.log) {
    *o_ += "log prefix \"";
    text_.log_prefix(*o_, r);
    *o_ += "\" ";
  }
  switch (r.action) {
    case ir::Action::Pass:
      *o_ += !r.state ? "return" : dir == ir::Direction::In ? "goto keep_in" : "goto keep_out";
      break;
    case ir::Action::Block: *o_ += "drop"; break;
    case ir::Action::Reject: *o_ += "goto reject_packet"; break;
  }
  *o_ += " comment \"";
  text_.comment(*o_, r);
  *o_ += "\"\n";
}

void NftWriter::rule(ir::Direction dir, const ir::Rule& r, const Alternative& alt) {
  *o_ += "\t\t";
  interfaces(dir, interface_matches_(r.match.interfaces));
  int family = linux_fw::rule_family(r.match);
  if (family >= 0 && r.match.src.empty() && r.match.dst.empty())
    *o_ += family == 0 ? "meta nfproto ipv4 " : "meta nfproto ipv6 ";
  auto f = family == 1 ? ir::Family::Inet6 : ir::Family::Inet;
  addresses(f, "saddr", r.match.src);
  addresses(f, "daddr", r.match.dst);
  protocols(alt);
  if (!collecting_) verdict(dir, r);
}

void NftWriter::collect_sets(ir::Direction dir) {
  std::string scratch;
  o_ = &scratch;
  collecting_ = true;
  for (std::uint32_t i : linux_fw::first_match_order(policy_, dir)) {
    const ir::Rule& r = policy_.rules[i];
    linux_fw::alternatives(r.match, alternatives_);
    for (const Alternative& alt : alternatives_) {
      // a set stands for a field of several ranges (or interfaces), nothing else
      bool sets = r.match.src.size() > 1 || r.match.dst.size() > 1 || alt.protocols.size() > 1 ||
                  alt.sport.size() > 1 || alt.dport.size() > 1 || alt.icmp_types.size() > 1 ||
                  interface_matches_(r.match.interfaces).names.size() > 1;
      if (!sets) continue;
      scratch.clear();
      rule(dir, r, alt);
    }
  }
  collecting_ = false;
  o_ = &chains_;
}

void NftWriter::judgement(ir::Direction dir) {
  const char* d = ir::to_string(dir);
  fmt::format_to(std::back_inserter(*o_), "\tchain judge_{} {{\n", d);
  if (stateful_) {
    fmt::format_to(std::back_inserter(*o_),
                   "\t\tct state established ct direction original ct mark & {:#x} != 0 return comment \"state\"\n"
                   "\t\tct state established ct direction reply ct mark & {:#x} != 0 return comment \"state\"\n",
                   linux_fw::state_match_bits(dir, true), linux_fw::state_match_bits(dir, false));
  }
  for (std::uint32_t i : linux_fw::first_match_order(policy_, dir)) {
    const ir::Rule& r = policy_.rules[i];
    linux_fw::alternatives(r.match, alternatives_);
    for (const Alternative& alt : alternatives_) rule(dir, r, alt);
  }
  const ir::Default& def = policy_.default_for(dir);
  if (def.action == ir::Action::Block)
    fmt::format_to(std::back_inserter(*o_), "\t\tdrop comment \"default block {}\"\n", d);
  else if (def.action == ir::Action::Reject)
    fmt::format_to(std::back_inserter(*o_), "\t\tgoto reject_packet comment \"default reject {}\"\n", d);
  *o_ += "\t}\n";
}

void NftWriter::fixed_chains() {
  for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) {
    if (!stateful_) break;
    fmt::format_to(std::back_inserter(*o_),
                   "\tchain keep_{0} {{\n"
                   "\t\tct direction original ct mark set ct mark | {1:#x} return\n"
                   "\t\tct mark set ct mark | {2:#x}\n"
                   "\t}}\n",
                   ir::to_string(dir), linux_fw::state_bit(dir, true), linux_fw::state_bit(dir, false));
  }
  *o_ +=
      "\tchain reject_packet {\n"
      "\t\tmeta l4proto tcp reject with tcp reset\n"
      "\t\treject with icmpx type port-unreachable\n"
      "\t}\n";
}

void NftWriter::base_chains() {
  // A connection that conntrack creates from an expectation (PPTP's GRE)
  // inherits the control connection's mark: its state bits are cleared.
  const std::string fresh =
      stateful_ ? "\t\tct state related ct status expected meta l4proto != { icmp, ipv6-icmp } "
                  "ct mark set ct mark & 0xfffffff0\n"
                : "";
  fmt::format_to(std::back_inserter(*o_),
                 "\tchain input {{\n\t\ttype filter hook input priority filter; policy accept;\n{0}"
                 "\t\tiifname \"lo\" ct state related meta l4proto {{ icmp, ipv6-icmp }} accept comment \"ICMP errors this host sent itself\"\n"
                 "\t\tiifname \"lo\" ct state related tcp flags rst accept comment \"resets this host sent itself\"\n"
                 "\t\tjump judge_in\n\t}}\n"
                 "\tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n{0}"
                 "\t\tjump judge_in\n\t\tjump judge_out\n\t}}\n"
                 "\tchain output {{\n\t\ttype filter hook output priority filter; policy accept;\n{0}"
                 "\t\tct state related meta l4proto {{ icmp, ipv6-icmp }} accept comment \"ICMP errors this host sends\"\n"
                 "\t\tct state related tcp flags rst accept comment \"resets this host sends\"\n"
                 "\t\tjump judge_out\n\t}}\n",
                 fresh);
  if (linux_fw::needs_pptp_helper(policy_)) {
    *o_ +=
        "\tchain pptp_prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n"
        "\t\tmeta nfproto ipv4 tcp dport 1723 ct helper set \"pptp\"\n\t}\n"
        "\tchain pptp_output {\n\t\ttype filter hook output priority filter; policy accept;\n"
        "\t\tmeta nfproto ipv4 tcp dport 1723 ct helper set \"pptp\"\n\t}\n";
  }
}

std::string NftWriter::write() {
  for (const ir::Rule& r : policy_.rules) stateful_ = stateful_ || (r.action == ir::Action::Pass && r.state);
  if (policy_.rules.size() < linux_fw::two_threads_from) {
    chains_.reserve(policy_.rules.size() * 200 + 4096);
    for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) judgement(dir);
  } else {  // the sets first, as one thread would define them; then one judgement a thread
    for (ir::Direction dir : {ir::Direction::In, ir::Direction::Out}) collect_sets(dir);
    NftWriter out(policy_, options_);
    out.stateful_ = stateful_;
    out.set_names_ = set_names_;
    chains_.reserve(policy_.rules.size() * 200 + 4096);
    out.chains_.reserve(policy_.rules.size() * 100 + 4096);
    linux_fw::run_both([&] { judgement(ir::Direction::In); }, [&] { out.judgement(ir::Direction::Out); });
    // room for the rest, the fixed chains and the head (inserted in place below)
    chains_.reserve(chains_.size() + out.chains_.size() + sets_.size() + 65536);
    chains_ += out.chains_;
  }
  fixed_chains();
  base_chains();
  std::string out =
      "#!/usr/sbin/nft -f\n"
      "# Generated by rulec. Load with `nft -f FILE`: it replaces table inet rulec\n"
      "# atomically; loading it again gives the same ruleset.\n"
      "table inet rulec {}\n"
      "delete table inet rulec\n"
      "table inet rulec {\n";
  if (linux_fw::needs_pptp_helper(policy_))
    out += "\tct helper pptp {\n\t\ttype \"pptp\" protocol tcp\n\t\tl3proto ip\n\t}\n";
  out += sets_;
  // The chains are by far the largest part: the head goes in front of them
  // in place, so the output is never held twice.
  chains_.insert(0, out);
  chains_ += "}\n";
  return std::move(chains_);
}

class NftBackend final : public Backend {
 public:
  bool emit(const ir::Policy& policy, const EmitOptions& options, std::string& out,
            diag::Sink& sink) const override {
    if (!linux_fw::check_policy(policy, options, "nft", sink)) return false;
    out = NftWriter(policy, options).write();
    return true;
  }
};

}  // namespace

std::unique_ptr<Backend> make_nft_backend() { return std::make_unique<NftBackend>(); }

}  // namespace rulec::backends
