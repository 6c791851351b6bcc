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

#include <span>
#include <string_view>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"

namespace rulec::backends {
namespace {

using namespace std::string_view_literals;

using linux_fw::Alternative;

/// One field of a rule: the packet must match one of its alternatives, or,
/// when `negated`, none of them. The strings are reused from rule to rule
/// (the first `count` are in use), so writing a rule allocates nothing.
struct Dimension {
  std::vector<std::string> alternatives;
  std::size_t count = 0;
  bool negated = false;

  void reset(bool negate) {
    count = 0;
    negated = negate;
  }
  /// A new, empty alternative.
  std::string& add() {
    if (count == alternatives.size()) alternatives.emplace_back();
    std::string& a = alternatives[count++];
    a.clear();
    return a;
  }
  std::size_t size() const { return count; }
  const std::string& operator[](std::size_t i) const { return alternatives[i]; }
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

/// Appends `-p NAME` or `-p NUMBER`.
void append_protocol_option(std::string& out, unsigned p, ir::Family f) {
  out += "-p "sv;
  if (const char* name = protocol_name(p, f))
    out += name;
  else
    linux_fw::append_number(out, p);
}

/// Appends `lo` or `lo:hi`.
void append_port_range(std::string& out, const ir::Range<std::uint16_t>& r) {
  linux_fw::append_number(out, r.lo);
  if (r.lo == r.hi) return;
  out += ':';
  linux_fw::append_number(out, r.hi);
}

/// Port options for one protocol, split into multiport matches of at most 15 slots.
void port_options(const char* which, const ir::FieldSet<std::uint16_t>& set, Dimension& out) {
  out.reset(false);
  if (set.empty()) {
    out.add();
    return;
  }
  if (set.size() == 1) {
    std::string& o = out.add();
    o += " --"sv;
    o += which;
    o += ' ';
    append_port_range(o, set[0]);
    return;
  }
  std::string* o = nullptr;
  unsigned slots = 0;
  for (const auto& r : set) {
    unsigned need = r.lo == r.hi ? 1 : 2;
    if (!o || slots + need > 15) {
      o = &out.add();
      *o += " -m multiport --"sv;
      *o += which;
      *o += "s "sv;
      slots = 0;
    } else {
      *o += ',';
    }
    append_port_range(*o, r);
    slots += need;
  }
}

/// What one look at each rule finds: the rules this family's target writes,
/// in first-match order (linux_fw::FirstMatchOrder) per direction, and
/// whether any rule passes with state. A million IR rules are a third of a
/// gigabyte; each look through them costs tens of milliseconds in cache
/// misses, so the look that checks them (RC514) finds these too.
struct RulesWritten {
  std::vector<std::uint32_t> in, out;
  bool stateful = false;
};

class IptablesWriter {
 public:
  IptablesWriter(const ir::Policy& policy, const EmitOptions& options, ir::Family family)
      : policy_(policy), options_(options), family_(family), text_(options, 29), interface_matches_(policy) {}
  IptablesWriter(const IptablesWriter&) = delete;  // out_ points into the object
  IptablesWriter& operator=(const IptablesWriter&) = delete;
  /// `written` is what RulesWritten found.
  std::string write(const RulesWritten& written);

 private:
  /// The three judgement chains: one thread, or two for a large policy.
  void judgements(std::span<const std::uint32_t> in, std::span<const std::uint32_t> out);
  /// A judgement chain is its head, its rules (in parts, when two threads
  /// write it) and its tail (the default).
  void judgement_head(const Judgement& j);
  void judgement_rules(const Judgement& j, std::span<const std::uint32_t> order);
  /// The rules of two judgements of one direction (input and forward) in one
  /// pass: a rule's comment and fields are worked out once and written twice,
  /// the second judgement's text into second_out_.
  void judgement_rules_twice(const Judgement& a, const Judgement& b, std::span<const std::uint32_t> order);
  /// Calls `write(rule, index)` for each rule of `order` (this family's
  /// rules, as RulesWritten lists them) that matches anything, with
  /// alternatives_ set to the rule's alternatives.
  template <typename Write>
  void for_each_written(std::span<const std::uint32_t> order, Write write);
  /// Sets the tail of the rule's lines from comment_ and the verdict.
  void set_tail() {
    std::string& t = out_->tail;
    t = comment_;
    t += ' ';
    t += out_->leaf;
    t += '\n';
  }
  /// Writes to second_out_ from now on, or back to main_out_.
  void swap_output() { out_ = out_ == &main_out_ ? &second_out_ : &main_out_; }
  /// Writes dims_ (the fields of alternative `alt_no` of rule `index`) for `j`.
  void write_alternative(const Judgement& j, std::uint32_t index, unsigned alt_no);
  void judgement_tail(const Judgement& j);
  void rule(const Judgement& j, std::uint32_t index, const Alternative& alt, unsigned alt_no);
  /// Fills dims_ (the first ndims_) with the rule's fields.
  void dimensions(const Judgement& j, const ir::Rule& r, const Alternative& alt);
  Dimension& next_dimension(bool negated);
  void protocol_dimension(const Alternative& alt);
  void address_dimension(const char* flag, const char* range_flag, const ir::FieldSet<ir::U128>& set);
  void cascade(std::string_view chain, std::size_t i, std::string& opts, unsigned& counter);
  /// Sets out_->leaf to the rule's verdict, writing its log chain first when it logs.
  void leaf(const Judgement& j, const ir::Rule& r, std::uint32_t index);
  void declare(std::string_view chain) {
    out_->decl += ':';
    out_->decl += chain;
    out_->decl += " - [0:0]\n"sv;
  }
  void fixed_chains();

  const ir::Policy& policy_;
  const EmitOptions& options_;
  ir::Family family_;
  bool stateful_ = false;
  /// What is written: rules, chain declarations and the verdict of the rule being written.
  struct Output {
    std::string rules, decl, leaf;
    std::string tail;  ///< what ends each line of the rule: comment, verdict, line end
  };
  Output main_out_;
  Output second_out_;  ///< forward, while judgement_rules_twice writes it beside input
  Output* out_ = &main_out_;
  std::string comment_;  ///< `-m comment` of the rule being written
  std::string base_;     ///< the prefix of its helper chains' names ("" until one is needed)
  const Judgement* base_judgement_ = nullptr;  ///< what base_ is made of
  std::uint32_t base_index_ = 0;
  unsigned base_alt_ = 0;
  std::uint32_t log_rule_ = UINT32_MAX;  ///< the rule log_text_ was written for
  std::string log_text_;                 ///< its log prefix (the same in every judgement)
  std::string log_chain_;
  std::string opts_;
  Line line_;  ///< the line being written
  std::vector<Dimension> dims_;
  std::size_t ndims_ = 0;
  Dimension sports_, dports_;
  std::vector<Alternative> alternatives_;
  linux_fw::RuleText text_;
  linux_fw::InterfaceMatches interface_matches_;
};

Dimension& IptablesWriter::next_dimension(bool negated) {
  if (ndims_ == dims_.size()) dims_.emplace_back();
  Dimension& d = dims_[ndims_++];
  d.reset(negated);
  return d;
}

void IptablesWriter::protocol_dimension(const Alternative& alt) {
  Dimension& d = next_dimension(alt.negate_protocols);
  bool ports = !alt.sport.empty() || !alt.dport.empty();
  if (ports) {
    port_options("sport", alt.sport, sports_);
    port_options("dport", alt.dport, dports_);
  }
  for (const auto& r : alt.protocols) {
    for (unsigned p = r.lo; p <= r.hi; ++p) {
      if (!alt.icmp_types.empty()) {
        if (!protocol_name(p, family_)) continue;  // ICMPv6 types in IPv4 (or back): no such packet
        const char* type = family_ == ir::Family::Inet ? " --icmp-type " : " --icmpv6-type ";
        for (const auto& t : alt.icmp_types)
          for (unsigned v = t.lo; v <= t.hi; ++v) {
            std::string& a = d.add();
            append_protocol_option(a, p, family_);
            a += type;
            linux_fw::append_number(a, v);
          }
        continue;
      }
      if (!ports) {
        append_protocol_option(d.add(), p, family_);
        continue;
      }
      for (std::size_t s = 0; s < sports_.size(); ++s)
        for (std::size_t dp = 0; dp < dports_.size(); ++dp) {
          std::string& a = d.add();
          append_protocol_option(a, p, family_);
          a += sports_[s];
          a += dports_[dp];
        }
    }
  }
}

void IptablesWriter::address_dimension(const char* flag, const char* range_flag, const ir::FieldSet<ir::U128>& set) {
  Dimension& d = next_dimension(false);
  auto block = [&](const linux_fw::Cidr& c) {
    std::string& a = d.add();
    a += flag;
    a += ' ';
    linux_fw::append_cidr(a, c, family_);
  };
  for (const auto& r : set) {
    if (auto one = linux_fw::single_cidr(r.lo, r.hi, family_)) {
      block(*one);
      continue;
    }
    auto cidrs = linux_fw::range_to_cidrs(r.lo, r.hi, family_);
    if (cidrs.size() <= 2) {
      for (const auto& c : cidrs) block(c);
    } else {
      std::string& a = d.add();
      a += "-m iprange "sv;
      a += range_flag;
      a += ' ';
      linux_fw::append_address(a, family_, r.lo);
      a += '-';
      linux_fw::append_address(a, family_, r.hi);
    }
  }
}

void IptablesWriter::dimensions(const Judgement& j, const ir::Rule& r, const Alternative& alt) {
  ndims_ = 0;
  const auto& iface = interface_matches_(r.match.interfaces);
  if (!iface.any) {
    Dimension& d = next_dimension(iface.negate);
    for (const auto& n : iface.names) {
      std::string& a = d.add();
      a += j.dir == ir::Direction::In ? "-i " : "-o ";
      a += n;
    }
  }
  if (!alt.protocols.empty()) protocol_dimension(alt);
  if (!r.match.src.empty()) address_dimension("-s", "--src-range", r.match.src);
  if (!r.match.dst.empty()) address_dimension("-d", "--dst-range", r.match.dst);
}

void IptablesWriter::leaf(const Judgement& j, const ir::Rule& r, std::uint32_t index) {
  switch (r.action) {
    case ir::Action::Pass: out_->leaf = r.state ? j.keep : j.pass; break;
    case ir::Action::Block: out_->leaf = "-j DROP"; break;
    case ir::Action::Reject: out_->leaf = "-j rulec-reject"; break;
  }
  if (!r.log) return;
  std::string& chain = log_chain_;
  chain = "rulec-log-";
  linux_fw::append_number(chain, index);
  chain += j.tag;
  declare(chain);
  if (log_rule_ != index) {
    log_text_.clear();
    text_.log_prefix(log_text_, r);
    log_rule_ = index;
  }
  Line& line = line_;  // the two lines of the log chain, appended to the output at once
  line.clear();
  line += "-A "sv;
  line += chain;
  line += " -j LOG --log-prefix \""sv;
  line += log_text_;
  line += "\"\n-A "sv;
  line += chain;
  line += ' ';
  line += out_->leaf;
  line += '\n';
  out_->rules.append(line.data(), line.size());
  out_->leaf = "-j ";
  out_->leaf += chain;
}

/// Writes dims_[i..] under `chain`: small products inline, bigger ones as a
/// chain per field. `opts` holds the options so far; it is restored on return.
void IptablesWriter::cascade(std::string_view chain, std::size_t i, std::string& opts, unsigned& counter) {
  if (i == ndims_) {
    Line& line = line_;  // one append to the output a line, not four
    line.clear();
    line += "-A "sv;
    line += chain;
    line += opts;
    line += out_->tail;
    out_->rules.append(line.data(), line.size());
    return;
  }
  const Dimension& d = dims_[i];
  const std::size_t mark = opts.size();
  if (d.negated && d.size() == 1) {
    opts += " ! "sv;
    opts += d[0];
    cascade(chain, i + 1, opts, counter);
    opts.resize(mark);
    return;
  }
  std::size_t product = 1;
  bool simple = true;
  for (std::size_t k = i; k < ndims_; ++k) {
    product *= dims_[k].size();
    simple = simple && !dims_[k].negated && product <= kMaxProduct;
  }
  if (simple) {
    for (std::size_t a = 0; a < d.size(); ++a) {
      opts += ' ';
      opts += d[a];
      cascade(chain, i + 1, opts, counter);
      opts.resize(mark);
    }
    return;
  }
  if (base_.empty()) {
    base_ = "rulec-r";
    linux_fw::append_number(base_, base_index_);
    base_ += base_judgement_->tag;
    linux_fw::append_number(base_, base_alt_);
  }
  std::string sub = base_;
  sub += '-';
  linux_fw::append_number(sub, ++counter);
  declare(sub);
  fmt::format_to(std::back_inserter(out_->rules), "-A {}{} -j {}\n", chain, opts, sub);
  std::string sub_opts;
  if (d.negated) {
    for (std::size_t a = 0; a < d.size(); ++a) fmt::format_to(std::back_inserter(out_->rules), "-A {} {} -j RETURN\n", sub, d[a]);
    return cascade(sub, i + 1, sub_opts, counter);
  }
  for (std::size_t a = 0; a < d.size(); ++a) {
    sub_opts.assign(" ");
    sub_opts += d[a];
    cascade(sub, i + 1, sub_opts, counter);
  }
}

void IptablesWriter::rule(const Judgement& j, std::uint32_t index, const Alternative& alt, unsigned alt_no) {
  const ir::Rule& r = policy_.rules[index];
  comment_ = " -m comment --comment \"";
  text_.comment(comment_, r);
  comment_ += '"';
  set_tail();
  dimensions(j, r, alt);
  write_alternative(j, index, alt_no);
}

void IptablesWriter::write_alternative(const Judgement& j, std::uint32_t index, unsigned alt_no) {
  base_.clear();  // named when the first helper chain needs it
  base_judgement_ = &j;
  base_index_ = index;
  base_alt_ = alt_no;
  unsigned counter = 0;
  opts_.clear();
  cascade(j.chain, 0, opts_, counter);
}

void IptablesWriter::judgement_head(const Judgement& j) {
  declare(j.chain);
  if (!stateful_) return;
  for (bool original : {true, false})
    fmt::format_to(std::back_inserter(out_->rules),
                   "-A {} -m conntrack --ctstate ESTABLISHED --ctdir {} -m connmark ! --mark 0/{:#x} {}\n", j.chain,
                   original ? "ORIGINAL" : "REPLY", linux_fw::state_match_bits(j.dir, original), j.pass);
}

template <typename Write>
void IptablesWriter::for_each_written(std::span<const std::uint32_t> order, Write write) {
  for (std::uint32_t i : order) {
    const ir::Rule& r = policy_.rules[i];
    linux_fw::alternatives(r.match, alternatives_);
    if (!alternatives_.empty()) write(r, i);
  }
}

void IptablesWriter::judgement_rules(const Judgement& j, std::span<const std::uint32_t> order) {
  for_each_written(order, [&](const ir::Rule& r, std::uint32_t i) {
    leaf(j, r, i);
    unsigned n = 0;
    for (const Alternative& alt : alternatives_) rule(j, i, alt, n++);
  });
}

void IptablesWriter::judgement_rules_twice(const Judgement& a, const Judgement& b, std::span<const std::uint32_t> order) {
  for_each_written(order, [&](const ir::Rule& r, std::uint32_t i) {
    leaf(a, r, i);
    swap_output();
    leaf(b, r, i);
    swap_output();
    comment_ = " -m comment --comment \"";
    text_.comment(comment_, r);
    comment_ += '"';
    set_tail();
    swap_output();
    set_tail();
    swap_output();
    unsigned n = 0;
    for (const Alternative& alt : alternatives_) {
      dimensions(a, r, alt);  // the same for b: one direction
      write_alternative(a, i, n);
      swap_output();
      write_alternative(b, i, n);
      swap_output();
      ++n;
    }
  });
}

void IptablesWriter::judgement_tail(const Judgement& j) {
  switch (policy_.default_for(j.dir).action) {
    case ir::Action::Pass: fmt::format_to(std::back_inserter(out_->rules), "-A {} {}\n", j.chain, j.pass); break;
    case ir::Action::Block: fmt::format_to(std::back_inserter(out_->rules), "-A {} -j DROP\n", j.chain); break;
    case ir::Action::Reject: fmt::format_to(std::back_inserter(out_->rules), "-A {} -j rulec-reject\n", j.chain); break;
  }
}

void IptablesWriter::judgements(std::span<const std::uint32_t> in, std::span<const std::uint32_t> out) {
  const Judgement &input = kJudgements[0], &forward = kJudgements[1], &output = kJudgements[2];
  if (policy_.rules.size() < linux_fw::two_threads_from) {
    // Reserved, not touched: free until written. Forward is written beside
    // input (the same rules) and joined to it after.
    out_->rules.reserve(policy_.rules.size() * 500 + 4096);
    second_out_.rules.reserve(policy_.rules.size() * 200 + 4096);
    judgement_head(input);
    swap_output();
    judgement_head(forward);
    swap_output();
    judgement_rules_twice(input, forward, in);
    judgement_tail(input);
    swap_output();
    judgement_tail(forward);
    swap_output();
    out_->rules += second_out_.rules;
    out_->decl += second_out_.decl;
    second_out_ = Output{};  // freed before output is written
    judgement_head(output);
    judgement_rules(output, out);
    judgement_tail(output);
    return;
  }
  // Two threads, each about half of the work: input and the start of
  // forward here, the rest of forward and output there; the two halves of
  // the text are joined in order.
  const std::size_t split = std::min(in.size(), out.size() / 2);
  const std::span<const std::uint32_t> forward_order(in);
  IptablesWriter rest(policy_, options_, family_);
  rest.stateful_ = stateful_;
  // Reserved, not touched: pages that are never written cost no memory.
  out_->rules.reserve(policy_.rules.size() * 500 + 4096);
  rest.out_->rules.reserve(policy_.rules.size() * 250 + 4096);
  linux_fw::run_both(
      [&] {
        judgement_head(input);
        judgement_rules(input, in);
        judgement_tail(input);
        judgement_head(forward);
        judgement_rules(forward, forward_order.first(split));
      },
      [&] {
        rest.judgement_rules(forward, forward_order.subspan(split));
        rest.judgement_tail(forward);
        rest.judgement_head(output);
        rest.judgement_rules(output, out);
        rest.judgement_tail(output);
      });
  out_->decl += rest.out_->decl;
  // room for the rest, the fixed chains and the head (inserted in place by write())
  out_->rules.reserve(out_->rules.size() + rest.out_->rules.size() + out_->decl.size() + 65536);
  out_->rules += rest.out_->rules;
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
    fmt::format_to(std::back_inserter(out_->rules),
                   "-A {0} -m conntrack --ctdir ORIGINAL -j CONNMARK --or-mark {1:#x}\n"
                   "-A {0} -m conntrack --ctdir REPLY -j CONNMARK --or-mark {2:#x}\n-A {0} {3}\n",
                   k.chain, linux_fw::state_bit(k.dir, true), linux_fw::state_bit(k.dir, false), k.then);
  }
  declare("rulec-reject");
  fmt::format_to(std::back_inserter(out_->rules),
                 "-A rulec-reject -p tcp -j REJECT --reject-with tcp-reset\n-A rulec-reject -j REJECT --reject-with {}\n",
                 v4 ? "icmp-port-unreachable" : "icmp6-port-unreachable");
  // Connections conntrack creates from an expectation (PPTP's GRE) inherit
  // the control connection's mark: their state bits are cleared first.
  std::string fresh = stateful_ ? fmt::format(" -m conntrack --ctstate RELATED --ctstatus EXPECTED ! -p {} -j CONNMARK "
                                              "--and-mark 0xfffffff0\n",
                                              v4 ? "icmp" : "ipv6-icmp")
                                : "";
  for (const char* base : {"INPUT", "FORWARD", "OUTPUT"})
    if (!fresh.empty()) out_->rules += fmt::format("-A {}{}", base, fresh);
  out_->rules += fmt::format(
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sent itself\" -j ACCEPT\n"
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sent itself\" -j ACCEPT\n"
      "-A INPUT -j rulec-input\n-A FORWARD -j rulec-forward\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sends\" -j ACCEPT\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sends\" -j ACCEPT\n"
      "-A OUTPUT -j rulec-output\n",
      v4 ? "icmp" : "ipv6-icmp");
}

std::string IptablesWriter::write(const RulesWritten& written) {
  stateful_ = written.stateful;
  judgements(written.in, written.out);
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
  out_->decl.insert(0, out);        // the declarations (25 MB at a million rules) are not copied
  out_->rules.insert(0, out_->decl);  // in place: the output is never held twice
  out_->rules += "COMMIT\n";
  return std::move(out_->rules);
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
    RulesWritten written;
    linux_fw::FirstMatchOrder first_match;
    first_match.reserve(policy.rules.size());
    const auto fam = static_cast<int>(family_);
    for (std::uint32_t i = 0; i < policy.rules.size(); ++i) {
      const ir::Rule& r = policy.rules[i];
      written.stateful = written.stateful || (r.action == ir::Action::Pass && r.state);
      int rf = linux_fw::rule_family(r.match);
      if (rf < 0 || rf == fam) first_match.add(i, r);  // the other family's target carries the others
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
    written.in = first_match.take(ir::Direction::In);
    written.out = first_match.take(ir::Direction::Out);
    out = IptablesWriter(policy, options, family_).write(written);
    return true;
  }

 private:
  ir::Family family_;
};

}  // namespace

std::unique_ptr<Backend> make_iptables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet); }
std::unique_ptr<Backend> make_ip6tables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet6); }

}  // namespace rulec::backends
