// What the Linux backends (nft, iptables, ip6tables) share: the mapping of
// the reference semantics onto netfilter.
//
// The kernel evaluates first-match; the reference is last-match with `done`.
// For one direction, the deciding rule is the first matching `done` rule, or
// else the last matching rule, so emitting the `done` rules in policy order
// followed by the other rules in reverse order gives the same decision with
// first match. Each direction becomes one "judgement" chain: input runs the
// in-judgement, output the out-judgement, forward both (in on the arriving
// interface, out on the leaving one). State is kept per direction with four
// bits of the conntrack mark (kStateBits): a judgement passes a packet by
// state when its own bit for this conntrack direction, or the other
// judgement's bit for the opposite conntrack direction, is set; that is
// exactly the evaluator's "same direction and 5-tuple, or opposite direction
// and reversed 5-tuple".
#pragma once

#include <array>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.hpp"
#include "backends/output_text.hpp"

namespace rulec::backends::linux_fw {

/// Conntrack mark bits: state created by the in-judgement for a packet in
/// the conntrack's original direction, in its reply direction, and the same
/// for the out-judgement. Only these four bits of the mark are used.
inline constexpr std::uint32_t kInOriginal = 0x1, kInReply = 0x2, kOutOriginal = 0x4, kOutReply = 0x8;
inline constexpr std::uint32_t kStateMask = 0xf;

/// The bit a state-keeping pass sets in judgement `dir` for a packet in the
/// conntrack's original (`original` true) or reply direction.
std::uint32_t state_bit(ir::Direction dir, bool original);
/// The bits that let a packet pass by state in judgement `dir`.
std::uint32_t state_match_bits(ir::Direction dir, bool original);

/// The IR rules that apply to each direction, in first-match order (the
/// `done` rules in order, then the others from the last to the first),
/// built one rule at a time, so that the one look a backend takes at a
/// million rules finds what else it needs too.
class FirstMatchOrder {
 public:
  void reserve(std::size_t rules);
  /// Takes IR rule `i`; the rules are taken in index order.
  void add(std::uint32_t i, const ir::Rule& r);
  /// Takes the rules `later` took (all after this one's, in index order).
  void append(FirstMatchOrder& later);
  /// The first-match order of direction `dir`, once every rule was taken.
  std::vector<std::uint32_t> take(ir::Direction dir);

 private:
  std::array<std::vector<std::uint32_t>, 2> done_, rest_;  ///< per direction
};
/// FirstMatchOrder's order of direction `dir`, by a look of its own.
std::vector<std::uint32_t> first_match_order(const ir::Policy& policy, ir::Direction dir);

/// An interface condition: any interface, one of `names`, or none of `names`.
struct InterfaceMatch {
  bool any = true;
  bool negate = false;
  std::vector<std::string> names;
};
InterfaceMatch interface_match(const ir::Policy& policy, const ir::FieldSet<std::uint32_t>& set);

/// interface_match, remembered: a policy has few distinct interface sets.
class InterfaceMatches {
 public:
  explicit InterfaceMatches(const ir::Policy& policy) : policy_(policy) {}
  const InterfaceMatch& operator()(const ir::FieldSet<std::uint32_t>& set);

 private:
  const ir::Policy& policy_;
  InterfaceMatch any_;
  std::vector<std::pair<ir::FieldSet<std::uint32_t>, InterfaceMatch>> seen_;
};

/// A piece of a rule's match that the kernel can test in one rule: the
/// rule matches a packet when one of its alternatives does. Splitting is
/// needed because ports exist only for tcp, udp and sctp and ICMP types only
/// for icmp and icmpv6, while the IR gives other protocols port 0 and type 0.
struct Alternative {
  ir::FieldSet<std::uint8_t> protocols;  ///< empty: any protocol
  bool negate_protocols = false;         ///< any protocol except `protocols`
  ir::FieldSet<std::uint16_t> sport, dport;  ///< only for tcp/udp/sctp alternatives
  ir::FieldSet<std::uint8_t> icmp_types;     ///< only for a single icmp or icmpv6 protocol
};
/// A rule's alternatives, copied: the reference AlternativeViews (which the
/// backends use) is tested against.
std::vector<Alternative> alternatives(const ir::Match& m);

/// An alternative as alternatives() finds it, without copies: the port and
/// ICMP type sets are the rule's own, the protocols the rule's or a set kept
/// by AlternativeViews. For a backend that writes each alternative at once.
struct AlternativeView {
  const ir::FieldSet<std::uint8_t>* protocols;  ///< empty: any protocol
  bool negate_protocols;                        ///< any protocol except `protocols`
  const ir::FieldSet<std::uint16_t>* sport;     ///< empty: no port match
  const ir::FieldSet<std::uint16_t>* dport;
  const ir::FieldSet<std::uint8_t>* icmp_types;  ///< empty: no type match
};

/// Finds rule after rule's alternatives, in alternatives()'s order, keeping
/// the few protocol sets they need in itself (no allocation a rule).
class AlternativeViews {
 public:
  /// Valid until the next call, while `m` lives.
  std::span<const AlternativeView> of(const ir::Match& m);

 private:
  std::array<AlternativeView, 4> views_{};  ///< ports; icmp; icmpv6; the others
  ir::FieldSet<std::uint8_t> port_protocols_, other_protocols_;
};

/// The single family a rule is limited to, or -1 for both.
int rule_family(const ir::Match& m);

/// A CIDR block of one family.
struct Cidr {
  ir::U128 base = 0;
  int prefix = 0;
};
/// The smallest list of CIDR blocks covering exactly [lo, hi].
std::vector<Cidr> range_to_cidrs(ir::U128 lo, ir::U128 hi, ir::Family f);
/// "192.0.2.0/24", or the bare address for a full-length prefix.
std::string format_cidr(const Cidr& c, ir::Family f);

/// True when `name` is a Linux interface name that is safe to copy into any
/// output: 1-15 bytes of letters, digits, '.', '_', '-'.
bool valid_interface_name(std::string_view name);
/// Copies `text` keeping letters, digits, space and `._-:/@+=,()#`, other bytes
/// replaced by '_', truncated to `max` bytes. Never contains a quote or backslash.
std::string safe_text(std::string_view text, std::size_t max);

/// The checks that apply to both Linux backends, adding diagnostics:
/// invalid interface names (error), labels that must be altered (warning),
/// and the places where conntrack cannot reproduce the reference exactly
/// (warning; error with `strict`). Rule by rule, in the look a backend takes
/// at every rule anyway (a million IR rules are a third of a gigabyte: a
/// look of their own costs a tenth of a second in cache misses).
class PolicyCheck {
 public:
  PolicyCheck(const ir::Policy& policy, const EmitOptions& options, std::string_view target, diag::Sink& sink);
  /// Checks the next rule; rules are taken in order.
  void rule(const ir::Rule& r);
  /// Takes the findings of `later`, which checked the rules after this
  /// one's, from a source rule's first IR rule on (look_in_halves()), adding to
  /// `later_sink`: its diagnostics follow this one's in `sink`.
  void take(PolicyCheck& later, diag::Sink& later_sink);
  /// After the last rule: false when an error was added.
  bool finish();

 private:
  const ir::Policy& policy_;
  const EmitOptions& options_;
  std::string_view target_;
  diag::Sink& sink_;
  bool ok_ = true;
  /// Each finding is reported once per source rule, and a source rule's IR
  /// rules come one after another: the last source rule each was reported
  /// for is all there is to remember (a set of them, at a million rules,
  /// cost more to fill and to free than the rest of the checks).
  static constexpr std::uint32_t kNoRule = UINT32_MAX;
  std::uint32_t last_iface_ = kNoRule, last_label_ = kNoRule, last_icmp_ = kNoRule, last_gre_ = kNoRule;
  bool any_icmp_ = false, any_gre_ = false;  ///< RC512 or RC513 reported
  std::string icmp_message_, gre_message_;  ///< made once: a generated policy can have thousands of these
  std::vector<bool> name_ok_;
};

/// The log prefix for a rule: "rulec " and its label or source line.
std::string log_prefix(const ir::Policy& policy, const ir::Rule& r, const EmitOptions& options, std::size_t max);
/// A rule's source location for a comment ("office.rules:14:1"), made safe.
std::string source_comment(const ir::Rule& r, const EmitOptions& options);

/// The comment ("file:line:col label") and log prefix of a rule, appended
/// straight to the output: no string per rule, file names made safe once.
class RuleText {
 public:
  RuleText(const ir::Policy& policy, const EmitOptions& options, std::size_t prefix_max)
      : policy_(policy), options_(options), max_(prefix_max) {}
  /// Appends source_comment(r), then " " and the label made safe, if any.
  void comment(std::string& out, const ir::Rule& r);
  /// Appends log_prefix(r, options, prefix_max).
  void log_prefix(std::string& out, const ir::Rule& r);

 private:
  /// safe_text of file `id`'s name (whole, or after its last '/'), made once.
  const std::string& file_name(std::uint32_t id, bool base);
  /// SourceFile::line_col of the rule's origin: its recorded line, or walking from the last rule's place.
  diag::LineCol line_col(const ir::Rule& r);
  const ir::Policy& policy_;
  const EmitOptions& options_;
  LineFinder lines_;
  std::size_t max_;
  std::vector<std::string> names_, base_names_;
  std::vector<bool> named_;
};

/// An address as text; IPv4 without going through inet_ntop.
std::string format_address(ir::Family f, ir::U128 a);
using backends::append_address;  // output_text.hpp: numbers and addresses without temporaries
using backends::append_number;
/// Appends format_cidr(c, f).
void append_cidr(std::string& out, const Cidr& c, ir::Family f);
/// The one CIDR block that is exactly [lo, hi], when range_to_cidrs gives one.
std::optional<Cidr> single_cidr(ir::U128 lo, ir::U128 hi, ir::Family f);
/// Appends safe_text(text, max).
void append_safe_text(std::string& out, std::string_view text, std::size_t max);

/// Policies of at least this many IR rules are written by two threads; the
/// output is byte for byte what one thread writes (a unit test compares).
/// nft plans and writes one judgement a thread, iptables and ip6tables split
/// their one pass: at 1M generated rules on the 2-vCPU development machine,
/// end to end, nft 1.02-1.11 s against 1.71-1.89 s with one thread (parsing
/// one thread too), iptables 0.87-0.93 s against 1.26-1.31 s (same minutes,
/// a slow day). On a machine busy with other work two threads gain less or
/// nothing. A variable, so that tests and benchmarks can choose
/// (compile_bench: RULEC_BENCH_THREADS=1 or 2).
inline std::size_t two_threads_from = 20000;

/// A backend's look at every rule: `look(from, to, first)` for the rules
/// [from, to). Below two_threads_from rules, once for all of them (`first`
/// true); from there, the first half on this thread and the second half on
/// another (`first` false), split about the middle at the first IR rule of
/// a source rule, so that what is reported once per source rule is found by
/// one half. The halves' findings joined in order are one thread's.
void look_in_halves(const ir::Policy& policy,
                    const std::function<void(std::uint32_t from, std::uint32_t to, bool first)>& look);

/// Asks for the cache lines of an IR rule that a pass will read soon: at a
/// million rules none is in the cache, and a rule is four lines.
inline void prefetch(const ir::Rule& r) {
  const char* at = reinterpret_cast<const char*>(&r);
  for (std::size_t line = 0; line < sizeof(ir::Rule); line += 64) __builtin_prefetch(at + line);
}
/// The same for a pass that reads only a rule's first two lines (its
/// options, source rule, directions, interfaces, families, protocols).
inline void prefetch_head(const ir::Rule& r) {
  const char* at = reinterpret_cast<const char*>(&r);
  __builtin_prefetch(at);
  __builtin_prefetch(at + 64);
}
/// From this many rules (or kernel rules), a backend maps the pages of its
/// large arrays and texts ahead of their writers, by support::map_now on
/// the writer's thread (a fault a page costs more).
inline constexpr std::size_t kMapPagesFrom = 16384;
/// How many rules ahead of the one it reads a pass asks for (prefetch()).
inline constexpr std::size_t kPrefetchAhead = 8;

/// Runs `first` here and `second` on another thread, then rethrows what
/// either threw.
void run_both(const std::function<void()>& first, const std::function<void()>& second);

/// True when `r` is a pass with state that can match GRE over IPv4: with
/// one such rule in the policy, the PPTP helper is attached to TCP 1723, so
/// that enhanced GRE is tracked by call ID. The backends ask it in their
/// look at every rule (a policy without one would be read through again).
bool needs_pptp_helper(const ir::Rule& r);

}  // namespace rulec::backends::linux_fw
