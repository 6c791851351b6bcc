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
//
// The output (hundreds of megabytes at a million rules) is written once, in
// parts (backends::Output) that are never copied together: the chains'
// declarations come first, but they are known only once the rules are
// written, so they are parts of their own, added in front of the rules'.
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <span>
#include <string_view>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "support/page_mapper.hpp"

namespace rulec::backends {
namespace {

using namespace std::string_view_literals;

using linux_fw::AlternativeView;

/// One field of a rule: the packet must match one of its pieces, or, when
/// negated, none of them. Each piece starts with a space (" -i lan"); the
/// pieces lie back to back in one buffer kept from rule to rule, so building
/// a rule's fields allocates nothing.
class Dimension {
 public:
  void reset(bool negate) {
    text_.clear();
    ends_.clear();
    negated_ = negate;
  }
  /// Where the next piece is written; end_piece() ends it.
  Line& text() { return text_; }
  void end_piece() { ends_.push_back(static_cast<std::uint32_t>(text_.size())); }
  std::size_t size() const { return ends_.size(); }
  bool negated() const { return negated_; }
  std::string_view operator[](std::size_t k) const {
    std::size_t from = k == 0 ? 0 : ends_[k - 1];
    return text_.view().substr(from, ends_[k] - from);
  }

 private:
  Line text_;
  std::vector<std::uint32_t> ends_;
  bool negated_ = false;
};

/// A judgement chain and what a pass does in it.
struct Judgement {
  ir::Direction dir;
  std::string_view chain;  ///< "rulec-input"
  std::string_view append;  ///< "-A rulec-input"
  char tag;                ///< short name used in the names of its helper chains
  std::string_view pass;   ///< target of a pass without state
  std::string_view keep;   ///< target of a pass with state
};

constexpr Judgement kJudgements[] = {
    {ir::Direction::In, "rulec-input", "-A rulec-input", 'i', "-j ACCEPT", "-g rulec-keep-input"},
    {ir::Direction::In, "rulec-forward", "-A rulec-forward", 'f', "-g rulec-output", "-g rulec-keep-forward"},
    {ir::Direction::Out, "rulec-output", "-A rulec-output", 'o', "-j ACCEPT", "-g rulec-keep-output"},
};

constexpr std::size_t kMaxProduct = 8;
constexpr std::string_view kDeclEnd = " - [0:0]\n";

/// Appends to a std::string through a pointer: the string is made longer
/// ahead of the text in steps and cut back to it by flush(), so a piece
/// costs a copy, not a call into the library. With `map_pages`, the pages
/// of the string's reserve are mapped a window ahead of the text, in one
/// call on the writer's thread (support::map_now: a third cheaper than a
/// fault a page; a mapping thread beside the two writers made three threads
/// on two CPUs, and one of the writers waited).
class Appender {
 public:
  Appender(std::string& s, bool map_pages) : s_(s), at_(s.size()), map_pages_(map_pages) {}
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;
  /// Where `n` more bytes go; done() takes their end.
  char* room(std::size_t n) {
    if (n > s_.size() - at_) [[unlikely]]
      grow(n);
    return s_.data() + at_;
  }
  void done(const char* end) { at_ = static_cast<std::size_t>(end - s_.data()); }
  void append(std::string_view text) {
    if (text.size() <= kStep) {
      char* p = room(text.size());
      std::memcpy(p, text.data(), text.size());
      done(p + text.size());
      return;
    }
    flush();  // a long text is appended as it is (no zeros written first), a window at a time
    for (std::size_t from = 0; from < text.size(); from += kWindow / 2) {
      const std::size_t n = std::min(kWindow / 2, text.size() - from);
      if (map_pages_) map_ahead(at_ + n);
      s_.append(text.data() + from, n);
      at_ += n;
    }
  }
  /// Cuts the string to the text; appending may go on after.
  void flush() { s_.resize(at_); }

 private:
  static constexpr std::size_t kStep = std::size_t{1} << 16, kWindow = std::size_t{2} << 20;
  void grow(std::size_t n) {
    if (map_pages_) map_ahead(at_ + n);
    s_.resize(at_ + std::max(n, kStep));
  }
  /// Maps the pages up to a window past `end` (within the reserve).
  void map_ahead(std::size_t end) { ahead_.keep_up_now(s_, end); }

  std::string& s_;
  std::size_t at_;
  bool map_pages_;
  support::MapAhead<char> ahead_{kWindow};
};

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

/// Appends ` -p NAME` or ` -p NUMBER`.
void append_protocol_option(Line& out, unsigned p, ir::Family f) {
  out += " -p "sv;
  if (const char* name = protocol_name(p, f))
    out += std::string_view(name);
  else
    append_number(out, p);
}

/// Appends `lo` or `lo:hi`.
void append_port_range(Line& out, const ir::Range<std::uint16_t>& r) {
  append_number(out, r.lo);
  if (r.lo == r.hi) return;
  out += ':';
  append_number(out, r.hi);
}

/// Port options for one protocol, split into multiport matches of at most
/// 15 slots; one empty piece for an empty set.
void port_options(std::string_view which, const ir::FieldSet<std::uint16_t>& set, Dimension& out) {
  out.reset(false);
  Line& o = out.text();
  if (set.size() == 1) {
    o += " --"sv;
    o += which;
    o += ' ';
    append_port_range(o, set[0]);
  } else if (!set.empty()) {
    unsigned slots = 0;
    bool open = false;
    for (const auto& r : set) {
      unsigned need = r.lo == r.hi ? 1 : 2;
      if (!open || slots + need > 15) {
        if (open) out.end_piece();
        o += " -m multiport --"sv;
        o += which;
        o += "s "sv;
        slots = 0;
        open = true;
      } else {
        o += ',';
      }
      append_port_range(o, r);
      slots += need;
    }
  }
  out.end_piece();
}

/// An entry of RulesWritten::order: an IR rule's index and its directions.
constexpr std::uint32_t kInRule = 1u << 31, kOutRule = 1u << 30, kRuleIndex = kOutRule - 1;

/// What one look at each rule finds: the rules this family's target writes,
/// in first-match order, whether any rule passes with state, whether GRE
/// with state needs the PPTP helper, and the bytes of the rules' chain
/// declarations. A million IR rules are a third of a gigabyte; each look
/// through them costs tens of milliseconds in cache misses, so the look that
/// checks them (RC514) finds these too.
///
/// The first-match orders of both directions are one order: the `done`
/// rules in order, then the others from the last to the first (as
/// linux_fw::FirstMatchOrder has them), each entry marked with the
/// directions it applies to. Read in that order, each rule is read once,
/// and its fields, comment and log prefix worked out once, for all three
/// judgement chains.
struct RulesWritten {
  std::vector<std::uint32_t> order;  ///< index | kInRule | kOutRule
  std::size_t in = 0, out = 0;       ///< entries marked kInRule, kOutRule
  bool stateful = false;
  bool pptp_helper = false;
};

/// A judgement chain being written: where its rules and declarations go,
/// and the end of every line of the rule being written.
struct Chain {
  const Judgement* j = nullptr;
  Appender* rules = nullptr;
  std::string decl;
  Line tail;  ///< comment, verdict, line end
};

class IptablesWriter {
 public:
  IptablesWriter(const ir::Policy& policy, const EmitOptions& options, ir::Family family)
      : policy_(policy), options_(options), family_(family), text_(policy, options, 29), interface_matches_(policy) {
    for (std::size_t k = 0; k < chains_.size(); ++k) chains_[k].j = &kJudgements[k];
  }
  IptablesWriter(const IptablesWriter&) = delete;
  IptablesWriter& operator=(const IptablesWriter&) = delete;
  /// Writes the whole output to `out`; `written` is what RulesWritten found.
  void write(const RulesWritten& written, Output& out);

 private:
  /// The rules of `order` (RulesWritten::order) into the chains of their
  /// directions: in-rules into each of `in`, out-rules into `out` (when not
  /// null). A rule's fields are worked out once for all of them.
  void rules(std::span<const std::uint32_t> order, std::span<Chain* const> in, Chain* out);
  /// Sets c.tail for rule `index`, writing its log chain first when it logs.
  void leaf(Chain& c, const ir::Rule& r, std::uint32_t index);
  /// Fills dims_ (the first ndims_) with the rule's fields.
  void dimensions(ir::Direction dir, const ir::Rule& r, const AlternativeView& alt);
  Dimension& next_dimension(bool negated);
  void protocol_dimension(const AlternativeView& alt);
  void address_dimension(std::string_view flag, std::string_view range_flag, const ir::FieldSet<ir::U128>& set);
  /// Works out the lines of dims_ when they are few and need no helper
  /// chain (combos_: what follows the chain's name on each); false otherwise.
  bool simple_alternative();
  /// The product of dims_[k..] into combos_, each behind line_ (restored on return).
  void product(std::size_t k);
  /// Writes the lines simple_alternative() worked out into `c`.
  void write_lines(Chain& c);
  /// Writes dims_ for alternative `alt_no` of rule `index` into `c` with helper chains.
  void write_cascade(Chain& c, std::uint32_t index, unsigned alt_no);
  /// Writes dims_[i..] under `chain`: small products inline, bigger ones as a
  /// chain per field. `opts` holds the options so far; it is restored on return.
  void cascade(Chain& c, std::string_view chain, std::size_t i, std::string& opts, unsigned& counter);
  void declare(Chain& c, std::string_view chain) {
    c.decl += ':';
    c.decl += chain;
    c.decl += kDeclEnd;
  }
  void judgement_head(Chain& c);
  void judgement_tail(Chain& c);
  /// The chains every output has (keep chains, reject) and the base chains' jumps.
  void fixed_chains(std::string& rules, std::string& decl);
  std::string head(bool pptp_helper) const;
  /// Writes the chains' rules with one thread, or with two for a large
  /// policy, into `texts`: the parts of the output between the declarations
  /// and the fixed chains, in order; and their declarations into `decls`,
  /// parts too, in order (not copied together: at a million rules they are
  /// tens of megabytes).
  void one_thread(const RulesWritten& written, std::vector<std::string>& texts, std::vector<std::string>& decls);
  void two_threads(const RulesWritten& written, std::vector<std::string>& texts, std::vector<std::string>& decls);

  const ir::Policy& policy_;
  const EmitOptions& options_;
  ir::Family family_;
  bool stateful_ = false;
  bool map_pages_ = false;  ///< map the texts' pages ahead (Appender), for a large policy
  std::array<Chain, 3> chains_;  ///< input, forward, output
  std::string comment_;          ///< `-m comment` of the rule being written
  std::string base_;             ///< the prefix of its helper chains' names ("" until one is needed)
  std::uint32_t base_index_ = 0;
  unsigned base_alt_ = 0;
  std::uint32_t log_rule_ = UINT32_MAX;  ///< the rule log_text_ was written for
  std::string log_text_;                 ///< its log prefix (the same in every judgement)
  Line log_chain_;
  Line line_;    ///< the line being written
  Line combos_;  ///< the options of each line of the alternative being written, back to back
  std::vector<std::uint32_t> combo_ends_;
  std::string cascade_text_;
  std::array<Dimension, 4> dims_;  ///< interface, protocol, source, destination
  std::size_t ndims_ = 0;
  Dimension sports_, dports_;
  linux_fw::AlternativeViews views_;
  linux_fw::RuleText text_;
  linux_fw::InterfaceMatches interface_matches_;
};

Dimension& IptablesWriter::next_dimension(bool negated) {
  Dimension& d = dims_[ndims_++];
  d.reset(negated);
  return d;
}

void IptablesWriter::protocol_dimension(const AlternativeView& alt) {
  Dimension& d = next_dimension(alt.negate_protocols);
  Line& a = d.text();
  const bool ports = !alt.sport->empty() || !alt.dport->empty();
  if (ports) {
    port_options("sport", *alt.sport, sports_);
    port_options("dport", *alt.dport, dports_);
  }
  for (const auto& r : *alt.protocols) {
    for (unsigned p = r.lo; p <= r.hi; ++p) {
      if (!alt.icmp_types->empty()) {
        if (!protocol_name(p, family_)) continue;  // ICMPv6 types in IPv4 (or back): no such packet
        const std::string_view type = family_ == ir::Family::Inet ? " --icmp-type "sv : " --icmpv6-type "sv;
        for (const auto& t : *alt.icmp_types)
          for (unsigned v = t.lo; v <= t.hi; ++v) {
            append_protocol_option(a, p, family_);
            a += type;
            append_number(a, v);
            d.end_piece();
          }
        continue;
      }
      if (!ports) {
        append_protocol_option(a, p, family_);
        d.end_piece();
        continue;
      }
      for (std::size_t s = 0; s < sports_.size(); ++s)
        for (std::size_t dp = 0; dp < dports_.size(); ++dp) {
          append_protocol_option(a, p, family_);
          a += sports_[s];
          a += dports_[dp];
          d.end_piece();
        }
    }
  }
}

void IptablesWriter::address_dimension(std::string_view flag, std::string_view range_flag,
                                       const ir::FieldSet<ir::U128>& set) {
  Dimension& d = next_dimension(false);
  Line& a = d.text();
  auto block = [&](const linux_fw::Cidr& c) {
    a += flag;
    append_address(a, family_, c.base);
    if (c.prefix != (family_ == ir::Family::Inet ? 32 : 128)) {
      a += '/';
      append_number(a, static_cast<unsigned>(c.prefix));
    }
    d.end_piece();
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
      a += " -m iprange "sv;
      a += range_flag;
      a += ' ';
      append_address(a, family_, r.lo);
      a += '-';
      append_address(a, family_, r.hi);
      d.end_piece();
    }
  }
}

void IptablesWriter::dimensions(ir::Direction dir, const ir::Rule& r, const AlternativeView& alt) {
  ndims_ = 0;
  const auto& iface = interface_matches_(r.match.interfaces);
  if (!iface.any) {
    Dimension& d = next_dimension(iface.negate);
    for (const auto& n : iface.names) {
      d.text() += dir == ir::Direction::In ? " -i "sv : " -o "sv;
      d.text() += std::string_view(n);
      d.end_piece();
    }
  }
  if (!alt.protocols->empty()) protocol_dimension(alt);
  if (!r.match.src.empty()) address_dimension(" -s "sv, "--src-range"sv, r.match.src);
  if (!r.match.dst.empty()) address_dimension(" -d "sv, "--dst-range"sv, r.match.dst);
}

void IptablesWriter::leaf(Chain& c, const ir::Rule& r, std::uint32_t index) {
  const Judgement& j = *c.j;
  std::string_view verdict;
  switch (r.action) {
    case ir::Action::Pass: verdict = r.state ? j.keep : j.pass; break;
    case ir::Action::Block: verdict = "-j DROP"sv; break;
    case ir::Action::Reject: verdict = "-j rulec-reject"sv; break;
  }
  Line& tail = c.tail;
  tail.clear();
  tail += std::string_view(comment_);
  tail += ' ';
  if (!r.log) {
    tail += verdict;
    tail += '\n';
    return;
  }
  Line& chain = log_chain_;
  chain.clear();
  chain += "rulec-log-"sv;
  append_number(chain, index);
  chain += j.tag;
  declare(c, chain.view());
  if (log_rule_ != index) {
    log_text_.clear();
    text_.log_prefix(log_text_, r);
    log_rule_ = index;
  }
  Line& line = line_;  // the two lines of the log chain, appended to the output at once
  line.clear();
  line += "-A "sv;
  line += chain.view();
  line += " -j LOG --log-prefix \""sv;
  line += std::string_view(log_text_);
  line += "\"\n-A "sv;
  line += chain.view();
  line += ' ';
  line += verdict;
  line += '\n';
  c.rules->append(line.view());
  tail += "-j "sv;
  tail += chain.view();
  tail += '\n';
}

void IptablesWriter::product(std::size_t k) {
  if (k == ndims_) {
    combos_ += line_.view();
    combo_ends_.push_back(static_cast<std::uint32_t>(combos_.size()));
    return;
  }
  const Dimension& d = dims_[k];
  const std::size_t mark = line_.size();
  for (std::size_t a = 0; a < d.size(); ++a) {
    line_ += d[a];
    product(k + 1);
    line_.shrink(mark);
  }
}

bool IptablesWriter::simple_alternative() {
  // The usual rule: a few lines, none of them a helper chain's (what
  // cascade() writes then, without its strings).
  std::size_t k = 0;
  line_.clear();
  for (; k < ndims_ && dims_[k].negated() && dims_[k].size() == 1; ++k) {
    line_ += " !"sv;
    line_ += dims_[k][0];
  }
  std::size_t product_size = 1;
  bool simple = true;
  for (std::size_t m = k; m < ndims_; ++m) {
    product_size *= dims_[m].size();
    simple = simple && !dims_[m].negated() && product_size <= kMaxProduct;
  }
  if (!simple) return false;
  combos_.clear();
  combo_ends_.clear();
  product(k);
  return true;
}

void IptablesWriter::write_lines(Chain& c) {
  const std::string_view start = c.j->append, tail = c.tail.view();
  const std::size_t lines = combo_ends_.size();
  char* p = c.rules->room(lines * (start.size() + tail.size()) + combos_.size());
  std::size_t from = 0;
  for (std::uint32_t end : combo_ends_) {
    std::memcpy(p, start.data(), start.size());
    p += start.size();
    std::memcpy(p, combos_.data() + from, end - from);
    p += end - from;
    std::memcpy(p, tail.data(), tail.size());
    p += tail.size();
    from = end;
  }
  c.rules->done(p);
}

void IptablesWriter::write_cascade(Chain& c, std::uint32_t index, unsigned alt_no) {
  base_.clear();  // named when the first helper chain needs it
  base_index_ = index;
  base_alt_ = alt_no;
  unsigned counter = 0;
  std::string opts;
  cascade_text_.clear();
  cascade(c, c.j->chain, 0, opts, counter);
  c.rules->append(cascade_text_);
}

void IptablesWriter::cascade(Chain& c, std::string_view chain, std::size_t i, std::string& opts, unsigned& counter) {
  std::string& out = cascade_text_;
  if (i == ndims_) {
    out += "-A "sv;
    out += chain;
    out += opts;
    out += c.tail.view();
    return;
  }
  const Dimension& d = dims_[i];
  const std::size_t mark = opts.size();
  if (d.negated() && d.size() == 1) {
    opts += " !"sv;
    opts += d[0];
    cascade(c, chain, i + 1, opts, counter);
    opts.resize(mark);
    return;
  }
  std::size_t product = 1;
  bool simple = true;
  for (std::size_t k = i; k < ndims_; ++k) {
    product *= dims_[k].size();
    simple = simple && !dims_[k].negated() && product <= kMaxProduct;
  }
  if (simple) {
    for (std::size_t a = 0; a < d.size(); ++a) {
      opts += d[a];
      cascade(c, chain, i + 1, opts, counter);
      opts.resize(mark);
    }
    return;
  }
  if (base_.empty()) {
    base_ = "rulec-r";
    linux_fw::append_number(base_, base_index_);
    base_ += c.j->tag;
    linux_fw::append_number(base_, base_alt_);
  }
  std::string sub = base_;
  sub += '-';
  linux_fw::append_number(sub, ++counter);
  declare(c, sub);
  fmt::format_to(std::back_inserter(out), "-A {}{} -j {}\n", chain, opts, sub);
  std::string sub_opts;
  if (d.negated()) {
    for (std::size_t a = 0; a < d.size(); ++a) fmt::format_to(std::back_inserter(out), "-A {}{} -j RETURN\n", sub, d[a]);
    return cascade(c, sub, i + 1, sub_opts, counter);
  }
  for (std::size_t a = 0; a < d.size(); ++a) {
    sub_opts.assign(d[a]);
    cascade(c, sub, i + 1, sub_opts, counter);
  }
}

void IptablesWriter::rules(std::span<const std::uint32_t> order, std::span<Chain* const> in, Chain* out) {
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k + linux_fw::kPrefetchAhead < order.size())
      linux_fw::prefetch(policy_.rules[order[k + linux_fw::kPrefetchAhead] & kRuleIndex]);
    const std::uint32_t entry = order[k];
    const bool to_in = (entry & kInRule) && !in.empty(), to_out = (entry & kOutRule) && out;
    if (!to_in && !to_out) continue;
    const std::uint32_t i = entry & kRuleIndex;
    const ir::Rule& r = policy_.rules[i];
    auto views = views_.of(r.match);
    if (views.empty()) continue;
    comment_ = " -m comment --comment \"";
    text_.comment(comment_, r);
    comment_ += '"';
    if (to_in)
      for (Chain* c : in) leaf(*c, r, i);
    if (to_out) leaf(*out, r, i);
    // The fields are the same in both directions but for the interface's
    // flag (-i, -o): only a rule that names interfaces works them out twice.
    const bool twice = to_in && to_out && !r.match.interfaces.empty();
    unsigned n = 0;
    for (const AlternativeView& alt : views) {
      dimensions(to_in ? ir::Direction::In : ir::Direction::Out, r, alt);
      bool simple = simple_alternative();
      if (to_in)
        for (Chain* c : in) simple ? write_lines(*c) : write_cascade(*c, i, n);
      if (to_out) {
        if (twice) {
          dimensions(ir::Direction::Out, r, alt);
          simple = simple_alternative();
        }
        simple ? write_lines(*out) : write_cascade(*out, i, n);
      }
      ++n;
    }
  }
}

void IptablesWriter::judgement_head(Chain& c) {
  const Judgement& j = *c.j;
  declare(c, j.chain);
  if (!stateful_) return;
  for (bool original : {true, false})
    c.rules->append(fmt::format("-A {} -m conntrack --ctstate ESTABLISHED --ctdir {} -m connmark ! --mark 0/{:#x} {}\n",
                                j.chain, original ? "ORIGINAL" : "REPLY", linux_fw::state_match_bits(j.dir, original),
                                j.pass));
}

void IptablesWriter::judgement_tail(Chain& c) {
  const Judgement& j = *c.j;
  switch (policy_.default_for(j.dir).action) {
    case ir::Action::Pass: c.rules->append(fmt::format("-A {} {}\n", j.chain, j.pass)); break;
    case ir::Action::Block: c.rules->append(fmt::format("-A {} -j DROP\n", j.chain)); break;
    case ir::Action::Reject: c.rules->append(fmt::format("-A {} -j rulec-reject\n", j.chain)); break;
  }
}

void IptablesWriter::fixed_chains(std::string& rules, std::string& decl) {
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
    fmt::format_to(std::back_inserter(decl), ":{}{}", k.chain, kDeclEnd);
    fmt::format_to(std::back_inserter(rules),
                   "-A {0} -m conntrack --ctdir ORIGINAL -j CONNMARK --or-mark {1:#x}\n"
                   "-A {0} -m conntrack --ctdir REPLY -j CONNMARK --or-mark {2:#x}\n-A {0} {3}\n",
                   k.chain, linux_fw::state_bit(k.dir, true), linux_fw::state_bit(k.dir, false), k.then);
  }
  fmt::format_to(std::back_inserter(decl), ":rulec-reject{}", kDeclEnd);
  fmt::format_to(std::back_inserter(rules),
                 "-A rulec-reject -p tcp -j REJECT --reject-with tcp-reset\n-A rulec-reject -j REJECT --reject-with {}\n",
                 v4 ? "icmp-port-unreachable" : "icmp6-port-unreachable");
  // Connections conntrack creates from an expectation (PPTP's GRE) inherit
  // the control connection's mark: their state bits are cleared first.
  if (stateful_)
    for (const char* base : {"INPUT", "FORWARD", "OUTPUT"})
      fmt::format_to(std::back_inserter(rules),
                     "-A {} -m conntrack --ctstate RELATED --ctstatus EXPECTED ! -p {} -j CONNMARK "
                     "--and-mark 0xfffffff0\n",
                     base, v4 ? "icmp" : "ipv6-icmp");
  fmt::format_to(std::back_inserter(rules),
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sent itself\" -j ACCEPT\n"
      "-A INPUT -i lo -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sent itself\" -j ACCEPT\n"
      "-A INPUT -j rulec-input\n-A FORWARD -j rulec-forward\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p tcp --tcp-flags RST RST -m comment --comment \"resets this host sends\" -j ACCEPT\n"
      "-A OUTPUT -m conntrack --ctstate RELATED -p {0} -m comment --comment \"ICMP errors this host sends\" -j ACCEPT\n"
      "-A OUTPUT -j rulec-output\n",
      v4 ? "icmp" : "ipv6-icmp");
}

std::string IptablesWriter::head(bool pptp_helper) const {
  const char* tool = family_ == ir::Family::Inet ? "iptables-restore" : "ip6tables-restore";
  std::string out = fmt::format(
      "# Generated by rulec. Load with `{} FILE`: it replaces the raw and filter\n"
      "# tables atomically; loading it again gives the same ruleset.\n*raw\n:PREROUTING ACCEPT [0:0]\n"
      ":OUTPUT ACCEPT [0:0]\n",
      tool);
  if (family_ == ir::Family::Inet && pptp_helper)
    out +=
        "-A PREROUTING -p tcp --dport 1723 -j CT --helper pptp\n"
        "-A OUTPUT -p tcp --dport 1723 -j CT --helper pptp\n";
  out += "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  return out;
}

void IptablesWriter::one_thread(const RulesWritten& written, std::vector<std::string>& texts,
                                std::vector<std::string>& decls) {
  Chain &input = chains_[0], &forward = chains_[1], &output = chains_[2];
  texts.resize(3);  // each chain's rules (reserved, not touched: free until written)
  texts[0].reserve(written.in * 500 + 4096);
  texts[1].reserve(written.in * 500 + 4096);
  texts[2].reserve(written.out * 500 + 4096);
  Appender main(texts[0], map_pages_), side(texts[1], map_pages_), other_side(texts[2], map_pages_);
  input.rules = &main;
  forward.rules = &side;
  output.rules = &other_side;
  judgement_head(input);
  judgement_head(forward);
  judgement_head(output);
  Chain* in[] = {&input, &forward};
  rules(written.order, in, &output);
  judgement_tail(input);
  judgement_tail(forward);
  judgement_tail(output);
  main.flush();
  side.flush();
  other_side.flush();
  for (Chain& c : chains_) decls.push_back(std::move(c.decl));
}

void IptablesWriter::two_threads(const RulesWritten& written, std::vector<std::string>& texts,
                                 std::vector<std::string>& decls) {
  // Here the first part of the order, there the rest, each into the three
  // chains: each chain is two parts of the output. The split evens out the
  // text: an in-rule is written twice (input, forward), an out-rule once.
  const std::span<const std::uint32_t> order(written.order);
  const std::size_t half = (2 * written.in + written.out) / 2;
  std::size_t split = 0;
  for (std::size_t weight = 0; split < order.size() && weight < half; ++split)
    weight += (order[split] & kInRule ? 2 : 0) + (order[split] & kOutRule ? 1 : 0);
  IptablesWriter rest(policy_, options_, family_);
  rest.stateful_ = stateful_;
  rest.map_pages_ = map_pages_;
  texts.resize(6);  // input here, there; forward here, there; output here, there
  for (std::size_t k = 0; k < texts.size(); ++k) texts[k].reserve((k < 4 ? written.in : written.out) * 300 + 4096);
  Appender input_here(texts[0], map_pages_), input_there(texts[1], map_pages_), forward_here(texts[2], map_pages_),
      forward_there(texts[3], map_pages_), output_here(texts[4], map_pages_), output_there(texts[5], map_pages_);
  chains_[0].rules = &input_here;
  chains_[1].rules = &forward_here;
  chains_[2].rules = &output_here;
  rest.chains_[0].rules = &input_there;
  rest.chains_[1].rules = &forward_there;
  rest.chains_[2].rules = &output_there;
  linux_fw::run_both(
      [&] {
        for (Chain& c : chains_) judgement_head(c);
        Chain* in[] = {&chains_[0], &chains_[1]};
        rules(order.first(split), in, &chains_[2]);
      },
      [&] {
        Chain* in[] = {&rest.chains_[0], &rest.chains_[1]};
        rest.rules(order.subspan(split), in, &rest.chains_[2]);
        for (Chain& c : rest.chains_) rest.judgement_tail(c);
      });
  for (Appender* a : {&input_here, &input_there, &forward_here, &forward_there, &output_here, &output_there})
    a->flush();
  for (std::size_t k = 0; k < chains_.size(); ++k) {
    decls.push_back(std::move(chains_[k].decl));
    decls.push_back(std::move(rest.chains_[k].decl));
  }
}

void IptablesWriter::write(const RulesWritten& written, Output& out) {
  stateful_ = written.stateful;
  std::string fixed_rules, fixed_decl;
  fixed_chains(fixed_rules, fixed_decl);
  // A large output is hundreds of megabytes of fresh memory: its pages are
  // mapped ahead of the writers.
  map_pages_ = policy_.rules.size() >= linux_fw::kMapPagesFrom;
  std::vector<std::string> texts, decls;
  if (policy_.rules.size() < linux_fw::two_threads_from)
    one_thread(written, texts, decls);
  else
    two_threads(written, texts, decls);
  // The chains are declared before their rules: the declarations are known
  // once the rules are written, and go in front of them as parts of their own.
  out.add(head(written.pptp_helper));
  for (std::string& decl : decls) out.add(std::move(decl));
  out.add(std::move(fixed_decl));
  for (std::string& text : texts) out.add(std::move(text));
  fixed_rules += "COMMIT\n";
  out.add(std::move(fixed_rules));
}

class IptablesBackend final : public Backend {
 public:
  explicit IptablesBackend(ir::Family f) : family_(f) {}
  bool emit(const ir::Policy& policy, const EmitOptions& options, Output& out,
            diag::Sink& sink) const override {
    const char* name = family_ == ir::Family::Inet ? "iptables" : "ip6tables";
    // One look at every rule: the checks, RC514 (reported after the checks,
    // and only when they pass), and what RulesWritten holds. From
    // two_threads_from rules a thread takes each half (look_in_halves()).
    const auto n = static_cast<std::uint32_t>(policy.rules.size());
    struct Look {
      linux_fw::PolicyCheck check;
      RulesWritten written;
      std::vector<std::uint32_t> rest;  // the rules without `done`, in order
      std::vector<diag::Diagnostic> protocol_zero;
    };
    diag::Sink later_sink;
    Look look{{policy, options, name, sink}, {}, {}, {}};
    Look later{{policy, options, name, later_sink}, {}, {}, {}};
    const auto fam = static_cast<int>(family_);
    linux_fw::look_in_halves(policy, [&](std::uint32_t from, std::uint32_t to, bool first) {
      Look& l = first ? look : later;
      RulesWritten& written = l.written;
      written.order.reserve(first ? n : to - from);  // the first with the second's rules appended
      l.rest.reserve(first ? n : to - from);
      std::uint32_t last = UINT32_MAX;
      for (std::uint32_t i = from; i < to; ++i) {
        if (i + linux_fw::kPrefetchAhead < to) linux_fw::prefetch_head(policy.rules[i + linux_fw::kPrefetchAhead]);
        const ir::Rule& r = policy.rules[i];
        l.check.rule(r);
        if (r.action == ir::Action::Pass && r.state) {
          written.stateful = true;
          written.pptp_helper = written.pptp_helper || linux_fw::needs_pptp_helper(r);
        }
        int rf = linux_fw::rule_family(r.match);
        const bool to_in = ir::field_contains(r.match.directions, std::uint8_t{0}),
                   to_out = ir::field_contains(r.match.directions, std::uint8_t{1});
        if ((rf < 0 || rf == fam) && (to_in || to_out)) {  // the other family's target carries the others
          (r.done ? written.order : l.rest).push_back(i | (to_in ? kInRule : 0) | (to_out ? kOutRule : 0));
          written.in += to_in;
          written.out += to_out;
        }
        if (r.match.protocols.empty() || r.match.protocols[0].lo != 0 || r.source_rule == last) continue;
        last = r.source_rule;
        diag::Diagnostic d{diag::Severity::Error, "RC514",
                           fmt::format("target '{}' cannot match IP protocol 0 (to iptables, -p 0 means any)", name),
                           r.origin};
        d.hint = "compile for nft, or leave protocol 0 out of the rule";
        l.protocol_zero.push_back(std::move(d));
      }
    });
    // later's findings follow this half's
    look.check.take(later.check, later_sink);
    RulesWritten& written = look.written;
    written.order.insert(written.order.end(), later.written.order.begin(), later.written.order.end());
    look.rest.insert(look.rest.end(), later.rest.begin(), later.rest.end());
    written.in += later.written.in;
    written.out += later.written.out;
    written.stateful = written.stateful || later.written.stateful;
    written.pptp_helper = written.pptp_helper || later.written.pptp_helper;
    for (diag::Diagnostic& d : later.protocol_zero) look.protocol_zero.push_back(std::move(d));
    later.written = {};
    later.rest = {};
    std::vector<diag::Diagnostic>& protocol_zero = look.protocol_zero;
    std::vector<std::uint32_t>& rest = look.rest;
    if (!look.check.finish()) return false;
    for (diag::Diagnostic& d : protocol_zero) sink.add(std::move(d));
    if (!protocol_zero.empty()) return false;
    written.order.insert(written.order.end(), rest.rbegin(), rest.rend());
    rest = {};
    IptablesWriter(policy, options, family_).write(written, out);
    return true;
  }

 private:
  ir::Family family_;
};

}  // namespace

std::unique_ptr<Backend> make_iptables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet); }
std::unique_ptr<Backend> make_ip6tables_backend() { return std::make_unique<IptablesBackend>(ir::Family::Inet6); }

}  // namespace rulec::backends
