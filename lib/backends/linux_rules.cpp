// The mapping shared by the Linux backends (see linux_rules.hpp).
#include "backends/linux_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "analysis/side_by_side.hpp"

namespace rulec::backends::linux_fw {

namespace {

using ir::FieldSet;

template <typename T>
bool contains_value(const FieldSet<T>& s, T v) {
  return s.empty() || ir::field_contains(s, v);
}

template <typename T>
bool names_value(const FieldSet<T>& s, T v) {
  return !s.empty() && ir::field_contains(s, v);
}

FieldSet<std::uint8_t> values(std::initializer_list<std::uint8_t> vs) {
  FieldSet<std::uint8_t> out;
  for (auto v : vs) out.push_back({v, v});
  ir::normalise(out);
  return out;
}

/// The protocols of `p` (empty: any) that are in `cls`, which is ascending
/// with no two values adjacent (so the result is a normal set as it is).
FieldSet<std::uint8_t> intersect(const FieldSet<std::uint8_t>& p, std::initializer_list<std::uint8_t> cls) {
  FieldSet<std::uint8_t> out;
  for (auto v : cls)
    if (contains_value(p, v)) out.push_back({v, v});
  return out;
}

/// The protocols of `p` outside `cls`; p must not be empty.
FieldSet<std::uint8_t> subtract(const FieldSet<std::uint8_t>& p, const std::set<unsigned>& cls) {
  FieldSet<std::uint8_t> out;
  for (const auto& r : p)
    for (unsigned v = r.lo; v <= r.hi; ++v)
      if (!cls.count(v)) out.push_back({static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v)});
  ir::normalise(out);
  return out;
}

/// "office.rules:14" for a rule (no directory, no column).
std::string short_location(const ir::Rule& r, const EmitOptions& options) {
  if (!options.sources) return fmt::format("rule {}", r.source_rule + 1);
  std::string where = options.sources->describe(r.origin);
  if (auto slash = where.rfind('/'); slash != std::string::npos) where = where.substr(slash + 1);
  if (auto colon = where.rfind(':'); colon != std::string::npos && where.find(':') != colon) where.resize(colon);
  return where;
}

void warn_once(diag::Sink& sink, const ir::Rule& r, bool strict, const char* code, std::string message,
               std::string hint) {
  diag::Diagnostic d{strict ? diag::Severity::Error : diag::Severity::Warning, code, std::move(message), r.origin};
  d.hint = std::move(hint);
  sink.add(std::move(d));
}

/// RC515, once per policy: a forwarded packet that the in-rules pass with
/// state and the out-rules drop leaves state in the reference, none in the
/// kernel (conntrack forgets a connection whose first packet is dropped).
bool warn_lost_in_state(const ir::Policy& policy, const EmitOptions& options, std::string_view target,
                        diag::Sink& sink) {
  const ir::Rule* in_state = nullptr;
  bool out_can_drop = policy.default_for(ir::Direction::Out).action != ir::Action::Pass;
  for (const ir::Rule& r : policy.rules) {
    if (r.action == ir::Action::Pass && r.state && !in_state && contains_value(r.match.directions, std::uint8_t{0}))
      in_state = &r;
    if (r.action != ir::Action::Pass && contains_value(r.match.directions, std::uint8_t{1})) out_can_drop = true;
    if (in_state && out_can_drop) break;  // nothing later changes either (a million rules need not be read again)
  }
  if (!in_state || !out_can_drop) return false;
  warn_once(sink, *in_state, options.strict, "RC515",
            fmt::format("target '{}': a forwarded packet that this rule passes with state but the out rules drop "
                        "leaves no state in the kernel (the reference keeps the in-state)",
                        target),
            "a reply to such a packet is judged by the rules in the kernel; pass it explicitly if it must pass");
  return true;
}

}  // namespace

std::uint32_t state_bit(ir::Direction dir, bool original) {
  if (dir == ir::Direction::In) return original ? kInOriginal : kInReply;
  return original ? kOutOriginal : kOutReply;
}

std::uint32_t state_match_bits(ir::Direction dir, bool original) {
  ir::Direction other = dir == ir::Direction::In ? ir::Direction::Out : ir::Direction::In;
  return state_bit(dir, original) | state_bit(other, !original);
}

void FirstMatchOrder::reserve(std::size_t rules) {
  for (auto* lists : {&done_, &rest_})
    for (auto& v : *lists) v.reserve(rules);
}

void FirstMatchOrder::add(std::uint32_t i, const ir::Rule& r) {
  for (std::uint8_t d = 0; d < 2; ++d)
    if (contains_value(r.match.directions, d)) (r.done ? done_[d] : rest_[d]).push_back(i);
}

std::vector<std::uint32_t> first_match_order(const ir::Policy& policy, ir::Direction dir) {
  FirstMatchOrder order;
  for (std::uint32_t i = 0; i < policy.rules.size(); ++i) order.add(i, policy.rules[i]);
  return order.take(dir);
}

void FirstMatchOrder::append(FirstMatchOrder& later) {
  for (std::size_t d = 0; d < 2; ++d) {
    done_[d].insert(done_[d].end(), later.done_[d].begin(), later.done_[d].end());
    rest_[d].insert(rest_[d].end(), later.rest_[d].begin(), later.rest_[d].end());
    later.done_[d] = {};
    later.rest_[d] = {};
  }
}

void look_in_halves(const ir::Policy& policy,
                    const std::function<void(std::uint32_t from, std::uint32_t to, bool first)>& look) {
  const auto n = static_cast<std::uint32_t>(policy.rules.size());
  if (n < two_threads_from) return look(0, n, true);
  std::uint32_t split = n / 2;
  while (split > 0 && split < n && policy.rules[split].source_rule == policy.rules[split - 1].source_rule) ++split;
  run_both([&] { look(0, split, true); }, [&] { look(split, n, false); });
}

std::vector<std::uint32_t> FirstMatchOrder::take(ir::Direction dir) {
  auto d = static_cast<std::size_t>(dir);
  std::vector<std::uint32_t> order = std::move(done_[d]);
  order.insert(order.end(), rest_[d].rbegin(), rest_[d].rend());
  rest_[d] = {};
  return order;
}

InterfaceMatch interface_match(const ir::Policy& policy, const FieldSet<std::uint32_t>& set) {
  InterfaceMatch m;
  if (set.empty()) return m;
  auto n = static_cast<std::uint32_t>(policy.interfaces.size());
  bool others = ir::field_contains(set, n);
  for (std::uint32_t i = 0; i < n; ++i)
    if (ir::field_contains(set, i) != others) m.names.push_back(policy.interfaces[i]);
  m.negate = others;
  m.any = others && m.names.empty();
  return m;
}

const InterfaceMatch& InterfaceMatches::operator()(const FieldSet<std::uint32_t>& set) {
  if (set.empty()) return any_;
  for (const auto& [key, match] : seen_)
    if (key == set) return match;
  if (seen_.size() >= 64) seen_.erase(seen_.begin());  // bound the linear search
  seen_.emplace_back(set, interface_match(policy_, set));
  return seen_.back().second;
}

std::vector<Alternative> alternatives(const ir::Match& m) {
  std::vector<Alternative> out;
  if (m.sport.empty() && m.dport.empty() && m.icmp_types.empty()) {
    out.push_back({m.protocols, false, {}, {}, {}});
    return out;
  }
  bool port_zero = contains_value(m.sport, std::uint16_t{0}) && contains_value(m.dport, std::uint16_t{0});
  bool type_zero = contains_value(m.icmp_types, std::uint8_t{0});
  using namespace ir::proto;
  if (auto pp = intersect(m.protocols, {tcp, udp, sctp}); !pp.empty() && type_zero)
    out.push_back({pp, false, m.sport, m.dport, {}});
  for (std::uint8_t q : {icmp, icmpv6})
    if (contains_value(m.protocols, q) && port_zero) out.push_back({values({q}), false, {}, {}, m.icmp_types});
  if (port_zero && type_zero) {
    if (m.protocols.empty())
      out.push_back({values({tcp, udp, sctp, icmp, icmpv6}), true, {}, {}, {}});
    else if (auto po = subtract(m.protocols, {tcp, udp, sctp, icmp, icmpv6}); !po.empty())
      out.push_back({po, false, {}, {}, {}});
  }
  return out;
}

namespace {

const FieldSet<std::uint8_t> kNoBytes;
const FieldSet<std::uint16_t> kNoPorts;
const FieldSet<std::uint8_t> kIcmpOnly = values({ir::proto::icmp});
const FieldSet<std::uint8_t> kIcmpv6Only = values({ir::proto::icmpv6});
const FieldSet<std::uint8_t> kPortOrTypeProtocols =
    values({ir::proto::tcp, ir::proto::udp, ir::proto::sctp, ir::proto::icmp, ir::proto::icmpv6});

bool port_or_type_protocol(unsigned v) {
  using namespace ir::proto;
  return v == tcp || v == udp || v == sctp || v == icmp || v == icmpv6;
}

}  // namespace

std::span<const AlternativeView> AlternativeViews::of(const ir::Match& m) {
  std::size_t n = 0;
  if (m.sport.empty() && m.dport.empty() && m.icmp_types.empty()) {
    views_[n++] = {&m.protocols, false, &kNoPorts, &kNoPorts, &kNoBytes};
    return {views_.data(), n};
  }
  bool port_zero = contains_value(m.sport, std::uint16_t{0}) && contains_value(m.dport, std::uint16_t{0});
  bool type_zero = contains_value(m.icmp_types, std::uint8_t{0});
  using namespace ir::proto;
  if (type_zero) {
    port_protocols_.clear();
    for (std::uint8_t v : {tcp, udp, sctp})
      if (contains_value(m.protocols, v)) port_protocols_.push_back({v, v});
    if (!port_protocols_.empty()) views_[n++] = {&port_protocols_, false, &m.sport, &m.dport, &kNoBytes};
  }
  if (port_zero) {
    if (contains_value(m.protocols, icmp)) views_[n++] = {&kIcmpOnly, false, &kNoPorts, &kNoPorts, &m.icmp_types};
    if (contains_value(m.protocols, icmpv6)) views_[n++] = {&kIcmpv6Only, false, &kNoPorts, &kNoPorts, &m.icmp_types};
  }
  if (port_zero && type_zero) {
    if (m.protocols.empty()) {
      views_[n++] = {&kPortOrTypeProtocols, true, &kNoPorts, &kNoPorts, &kNoBytes};
    } else {  // the protocols outside the five, split around them
      other_protocols_.clear();
      for (const auto& r : m.protocols) {
        unsigned lo = r.lo;
        for (unsigned v = r.lo; v <= r.hi; ++v) {
          if (!port_or_type_protocol(v)) continue;
          if (v > lo) other_protocols_.push_back({static_cast<std::uint8_t>(lo), static_cast<std::uint8_t>(v - 1)});
          lo = v + 1;
        }
        if (lo <= r.hi) other_protocols_.push_back({static_cast<std::uint8_t>(lo), r.hi});
      }
      ir::normalise(other_protocols_);
      if (!other_protocols_.empty()) views_[n++] = {&other_protocols_, false, &kNoPorts, &kNoPorts, &kNoBytes};
    }
  }
  return {views_.data(), n};
}

int rule_family(const ir::Match& m) {
  if (m.families.size() == 1 && m.families[0].lo == m.families[0].hi) return m.families[0].lo;
  return -1;
}

std::vector<Cidr> range_to_cidrs(ir::U128 lo, ir::U128 hi, ir::Family f) {
  const int bits = f == ir::Family::Inet ? 32 : 128;
  const ir::U128 top = bits == 32 ? ir::U128{0xffffffffu} : ~ir::U128{0};
  std::vector<Cidr> out;
  if (lo == 0 && hi == top) return {Cidr{0, 0}};
  while (true) {
    // The block covers 2^size addresses: as many as lo's alignment allows and
    // hi - lo + 1 holds, short of the whole space (handled above).
    int size = static_cast<int>(std::min({static_cast<unsigned>(bits - 1), ir::trailing_zeros(lo),
                                           ir::floor_log2(hi - lo + 1)}));
    out.push_back({lo, bits - size});
    ir::U128 last = lo + ((ir::U128{1} << size) - 1);
    if (last >= hi) break;
    lo = last + 1;
  }
  return out;
}

std::string format_address(ir::Family f, ir::U128 a) {
  if (f != ir::Family::Inet) return ir::format_address(f, a);
  std::string s;
  append_address(s, f, a);
  return s;
}

void append_cidr(std::string& out, const Cidr& c, ir::Family f) {
  append_address(out, f, c.base);
  if (c.prefix != (f == ir::Family::Inet ? 32 : 128)) {
    out += '/';
    append_number(out, static_cast<unsigned>(c.prefix));
  }
}

std::string format_cidr(const Cidr& c, ir::Family f) {
  std::string s;
  append_cidr(s, c, f);
  return s;
}

std::optional<Cidr> single_cidr(ir::U128 lo, ir::U128 hi, ir::Family f) {
  const int bits = f == ir::Family::Inet ? 32 : 128;
  const ir::U128 top = bits == 32 ? ir::U128{0xffffffffu} : ~ir::U128{0};
  if (lo == 0 && hi == top) return Cidr{0, 0};
  if (hi < lo) return std::nullopt;
  ir::U128 n = hi - lo + 1;  // no overflow: the whole space was handled above
  if ((n & (n - 1)) != 0 || (lo & (n - 1)) != 0) return std::nullopt;
  return Cidr{lo, bits - static_cast<int>(ir::trailing_zeros(n))};  // n is a power of two
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

namespace {

constexpr std::array<bool, 256> kSafeChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : std::string_view(" ._-:/@+=,()#")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

/// True when safe_text(text, max) would be `text` itself.
bool already_safe(std::string_view text, std::size_t max) {
  return text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return kSafeChars[static_cast<unsigned char>(c)]; });
}

}  // namespace

void append_safe_text(std::string& out, std::string_view text, std::size_t max) {
  if (text.size() > max) text = text.substr(0, max);
  std::size_t at = out.size();
  out.append(text);
  for (std::size_t i = at; i < out.size(); ++i)
    if (!kSafeChars[static_cast<unsigned char>(out[i])]) out[i] = '_';
}

std::string safe_text(std::string_view text, std::size_t max) {
  std::string out;
  append_safe_text(out, text, max);
  return out;
}

PolicyCheck::PolicyCheck(const ir::Policy& policy, const EmitOptions& options, std::string_view target,
                         diag::Sink& sink)
    : policy_(policy), options_(options), target_(target), sink_(sink) {
  icmp_message_ = fmt::format(
      "target '{}': the kernel keeps ICMP state per echo request (by its id), not per pair of hosts as the "
      "reference does",
      target);
  gre_message_ = fmt::format(
      "target '{}': the kernel tracks enhanced GRE (PPTP) only through the pptp helper on TCP port 1723 over "
      "IPv4; other GRE state holds for GRE version 0 only",
      target);
  for (const std::string& name : policy.interfaces) name_ok_.push_back(valid_interface_name(name));
}

void PolicyCheck::rule(const ir::Rule& r) {
  bool bad_name = false;
  for (const auto& range : r.match.interfaces)
    for (std::uint32_t i = range.lo; i <= range.hi && i < name_ok_.size(); ++i) bad_name = bad_name || !name_ok_[i];
  if (bad_name) for (const std::string& name : interface_match(policy_, r.match.interfaces).names) {
    if (valid_interface_name(name) || last_iface_ == r.source_rule) continue;
    last_iface_ = r.source_rule;
    diag::Diagnostic d{diag::Severity::Error, "RC510",
                       fmt::format("target '{}' cannot use the interface name '{}'", target_, safe_text(name, 40)),
                       r.origin};
    d.hint = "Linux interface names are 1-15 letters, digits, '.', '_' or '-'";
    sink_.add(std::move(d));
    ok_ = false;
  }
  if (r.label_id && last_label_ != r.source_rule && !already_safe(policy_.label(r), 64)) {
    last_label_ = r.source_rule;
    sink_.add({diag::Severity::Warning, "RC511",
               fmt::format("target '{}' writes this label with only letters, digits and ._-:/@+=,()# (others become "
                           "'_'), at most 64 bytes",
                           target_),
               r.origin});
  }
  if (r.action != ir::Action::Pass || !r.state) return;
  if ((names_value(r.match.protocols, ir::proto::icmp) || names_value(r.match.protocols, ir::proto::icmpv6)) &&
      last_icmp_ != r.source_rule) {
    last_icmp_ = r.source_rule;
    any_icmp_ = true;
    warn_once(sink_, r, options_.strict, "RC512", icmp_message_,
              "echo replies pass as in the reference; other ICMP between the same hosts needs its own pass rule");
  }
  if (names_value(r.match.protocols, ir::proto::gre) && last_gre_ != r.source_rule) {
    last_gre_ = r.source_rule;
    any_gre_ = true;
    warn_once(sink_, r, options_.strict, "RC513", gre_message_,
              "for GRE outside an IPv4 PPTP session, pass GRE in both directions with rules");
  }
}

void PolicyCheck::take(PolicyCheck& later, diag::Sink& later_sink) {
  // Moved in one insert, with room to spare: a generated million-rule policy
  // has 48k warnings, and finish()'s one more would otherwise move them all.
  std::vector<diag::Diagnostic>& all = sink_.all();
  std::vector<diag::Diagnostic>& more = later_sink.all();
  all.reserve(all.size() + more.size() + (all.size() + more.size()) / 8 + 16);
  all.insert(all.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  more.clear();
  ok_ = ok_ && later.ok_;
  any_icmp_ = any_icmp_ || later.any_icmp_;
  any_gre_ = any_gre_ || later.any_gre_;
}

bool PolicyCheck::finish() {
  bool lost_state = warn_lost_in_state(policy_, options_, target_, sink_);
  return ok_ && !(options_.strict && (any_icmp_ || any_gre_ || lost_state));
}

std::string log_prefix(const ir::Policy& policy, const ir::Rule& r, const EmitOptions& options, std::size_t max) {
  std::string name = r.label_id ? std::string(policy.label(r)) : short_location(r, options);
  std::string p = safe_text("rulec " + name, max - 1);
  return p + " ";
}

std::string source_comment(const ir::Rule& r, const EmitOptions& options) {
  if (!options.sources) return fmt::format("rule {}", r.source_rule + 1);
  return safe_text(options.sources->describe(r.origin), 120);
}

const std::string& RuleText::file_name(std::uint32_t id, bool base) {
  if (named_.size() <= id) {
    named_.resize(id + 1);
    names_.resize(id + 1);
    base_names_.resize(id + 1);
  }
  if (!named_[id]) {
    const std::string& name = options_.sources->file(id).name();
    names_[id] = safe_text(name, 120);
    auto slash = name.rfind('/');
    base_names_[id] = safe_text(slash == std::string::npos ? name : name.substr(slash + 1), 120);
    named_[id] = true;
  }
  return base ? base_names_[id] : names_[id];
}

diag::LineCol RuleText::line_col(const ir::Rule& r) { return lines_.find(*options_.sources, r.origin, r.line, r.column); }

void RuleText::comment(std::string& out, const ir::Rule& r) {
  if (!options_.sources || r.origin.file >= options_.sources->size()) {
    out += source_comment(r, options_);
  } else {  // safe_text(describe(origin), 120): the name is made safe once, digits and ':' are safe
    std::size_t start = out.size();
    out += file_name(r.origin.file, false);
    diag::LineCol lc = line_col(r);
    out += ':';
    append_number(out, lc.line);
    out += ':';
    append_number(out, lc.column);
    if (out.size() - start > 120) out.resize(start + 120);
  }
  if (r.label_id) {
    out += ' ';
    append_safe_text(out, policy_.label(r), 64);
  }
}

void RuleText::log_prefix(std::string& out, const ir::Rule& r) {
  std::size_t start = out.size();
  if (r.label_id) {
    out += "rulec ";
    append_safe_text(out, policy_.label(r), max_ - 1 - 6);
  } else if (!options_.sources || r.origin.file >= options_.sources->size()) {
    out += linux_fw::log_prefix(policy_, r, options_, max_);
    return;
  } else {  // "rulec FILE:LINE", FILE without its directory
    out += "rulec ";
    out += file_name(r.origin.file, true);
    out += ':';
    append_number(out, line_col(r).line);
    if (out.size() - start > max_ - 1) out.resize(start + max_ - 1);
  }
  out += ' ';
}

void run_both(const std::function<void()>& first, const std::function<void()>& second) {
  analysis::side_by_side(second, first);
}

bool needs_pptp_helper(const ir::Rule& r) {
  return r.action == ir::Action::Pass && r.state && contains_value(r.match.protocols, ir::proto::gre) &&
         contains_value(r.match.families, std::uint8_t{0});
}

}  // namespace rulec::backends::linux_fw
