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

#include <cstring>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "backends/nft_merge.hpp"
#include "support/page_mapper.hpp"

namespace rulec::backends {
namespace {

using nft_merge::AltFields;
using linux_fw::InterfaceMatch;

using linux_fw::kPrefetchAhead;
using linux_fw::prefetch;

template <typename T>
bool is_single(const ir::FieldSet<T>& s) {
  return s.size() == 1 && s[0].lo == s[0].hi;
}

class NftWriter {
 public:
  NftWriter(const ir::Policy& policy, const EmitOptions& options)
      : policy_(policy),
        options_(options),
        text_(policy, options, 120),
        moved_text_(policy, options, 120),
        interface_matches_(policy) {}
  /// The script, or false when the checks (linux_fw::PolicyCheck, adding to
  /// `sink`) refuse the policy.
  bool write(Output& out, diag::Sink& sink);

 private:
  void judgement(ir::Direction dir);
  /// The kernel rules of `dir` (nft_merge.hpp): entries_[dir] grouped by plans_[dir].
  /// Plans judgement `dir` from its rules in first-match order.
  void plan(ir::Direction dir, std::span<const std::uint32_t> order);
  /// Writes one group: its entry's rule alone, or one rule with a set of its members' values.
  void group(ir::Direction dir, std::span<const std::uint32_t> members);
  void merged(ir::Direction dir, std::span<const std::uint32_t> members);
  /// Appends to elements_ the set elements of one member of a merged group.
  void elements(const nft_merge::Entry& e, ir::Family f, bool l4proto, bool icmp, std::string_view comment);
  /// What entries of one class share besides their effect: interfaces,
  /// families, the fields they match, as one number (see shape()). False when
  /// the entry never joins others.
  bool shape(std::uint64_t& out, const nft_merge::Entry& e);
  /// The number of an interface set among those met (0: any interface).
  std::uint32_t interface_set(const ir::FieldSet<std::uint32_t>& s);
  void verdict_text(std::string& out, ir::Direction dir, const ir::Rule& r);
  /// Notes a rule that needs no kernel rule, for covered_notes().
  void covered(const ir::Rule& r);
  /// Writes the notes of covered(): which rules the chain leaves out.
  void covered_notes();
  /// What text_.comment appends, for a rule out of source order.
  void comment(std::string& out, const ir::Rule& r) { moved_text_.comment(out, r); }
  void rule(ir::Direction dir, const ir::Rule& r, const AltFields& alt);
  void interfaces(ir::Direction dir, const InterfaceMatch& m);
  void protocols(const AltFields& alt);
  void addresses(ir::Family f, const char* which, const ir::FieldSet<ir::U128>& set);
  /// A single value or range inline; more as a named set of `type`, shared when equal.
  template <typename T>
  void value_set(const ir::FieldSet<T>& set, const char* type);
  /// Appends `@name` of the set of `type` holding `elements`, defining it on first use.
  void named_set(const char* type, const std::string& elements, const char* prefix = nullptr);
  /// Names the set of key_ (type|elements), defining it in sets_.
  const std::string& define_set(std::string_view prefix);
  /// Names the sets of `other`'s chains, which it wrote with deferred set
  /// names, in place: defines the sets it met first as if this writer had
  /// written them, and puts each name where room was left for it.
  void name_deferred(NftWriter& other);
  void verdict(ir::Direction dir, const ir::Rule& r);
  void fixed_chains();
  void base_chains();

  const ir::Policy& policy_;
  const EmitOptions& options_;
  bool stateful_ = false;
  bool pptp_helper_ = false;  ///< linux_fw::needs_pptp_helper() of some rule
  std::string sets_, chains_;
  std::string* o_ = &chains_;
  std::unordered_map<std::string, std::string> set_names_;
  linux_fw::RuleText text_;
  /// The same for rules written out of source order (members of a group
  /// after its first): a finder of its own, so neither walks far.
  linux_fw::RuleText moved_text_;
  linux_fw::InterfaceMatches interface_matches_;
  /// Sets are named once both judgements are written (name_deferred()): in
  /// named_set(), room is left in the text for the name, and remembered.
  bool deferred_names_ = false;
  /// The room for a deferred name: "{prefix}_{number}", a prefix of at most
  /// 6 letters (ifname, icmpv6, rules...) and a 32-bit number.
  static constexpr std::size_t kNameRoom = 24;
  std::unordered_map<std::string, std::uint32_t> deferred_ids_;     ///< key: index in deferred_sets_
  std::vector<std::pair<std::string, std::string>> deferred_sets_;  ///< key, prefix; in first-use order
  /// chains_ offset of the room, deferred_sets_ index
  std::vector<std::pair<std::size_t, std::uint32_t>> deferred_uses_;
  /// Writing a rule out of source order: its text is made with moved_text_,
  /// not text_, whose line search is fast only from one rule to the next.
  bool moved_ = false;
  linux_fw::AlternativeViews alternatives_;  ///< of the rule being planned
  std::string elements_, key_;             ///< scratch for named sets
  std::vector<nft_merge::Entry> entries_[2];
  std::vector<ir::FieldSet<std::uint32_t>> interface_sets_;  ///< interface_set() k is [k - 1]
  std::unordered_map<std::string, std::uint32_t> interface_set_ids_;
  std::string covered_;             ///< the rules of covered(), "; " between
  std::size_t covered_count_ = 0;   ///< how many
  /// Maps the pages of o_'s reserve a few megabytes ahead of its text, in
  /// one call (a third cheaper than a page fault at a time).
  support::MapAhead<char> text_ahead_{std::size_t{4} << 20};
  const ir::Rule* last_covered_ = nullptr;
  nft_merge::Plan plans_[2];
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
    one(*o_, set[0]);
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

void NftWriter::named_set(const char* type, const std::string& elements, const char* prefix) {
  key_.assign(type);
  key_ += '|';
  key_ += elements;
  const std::string_view short_type = std::string_view(type).substr(0, std::string_view(type).find('_'));
  *o_ += '@';
  if (!deferred_names_) {
    *o_ += define_set(prefix ? std::string_view(prefix) : short_type);
    return;
  }
  // the set's number among this writer's sets; in the text, room for its name
  auto [it, fresh] = deferred_ids_.try_emplace(key_, static_cast<std::uint32_t>(deferred_sets_.size()));
  if (fresh) deferred_sets_.emplace_back(key_, prefix ? std::string_view(prefix) : short_type);
  deferred_uses_.emplace_back(o_->size(), it->second);
  o_->append(kNameRoom, ' ');
}

const std::string& NftWriter::define_set(std::string_view prefix) {
  auto [it, fresh] = set_names_.try_emplace(key_);
  if (!fresh) return it->second;
  std::string& name = it->second;  // "{prefix}_{number}"
  name.assign(prefix);
  name += '_';
  linux_fw::append_number(name, set_names_.size());
  const std::string_view key = it->first;
  const std::string_view type = key.substr(0, key.find('|'));
  // "\tset NAME {\n\t\ttype TYPE; flags interval;\n\t\telements = { ELEMENTS }\n\t}\n", appended
  // piece by piece (a million-rule policy defines 100,000 sets)
  sets_ += "\tset ";
  sets_ += name;
  sets_ += " {\n\t\ttype ";
  sets_ += type;
  sets_ += type != "ifname" ? "; flags interval;\n\t\telements = { " : ";\n\t\telements = { ";
  sets_ += key.substr(type.size() + 1);
  sets_ += " }\n\t}\n";
  return name;
}

void NftWriter::name_deferred(NftWriter& other) {
  std::vector<const std::string*> names;
  names.reserve(other.deferred_sets_.size());
  for (const auto& [key, prefix] : other.deferred_sets_) {
    key_ = key;
    names.push_back(&define_set(prefix));
    if (names.back()->size() > kNameRoom) throw std::logic_error("nft: a set name longer than the room left for it");
  }
  // Each piece of text moves left by the room its names did not fill: in
  // place, in order (a piece never moves right), on pages already mapped.
  char* text = other.chains_.data();
  std::size_t from = 0, to = 0;
  for (const auto& [at, set] : other.deferred_uses_) {
    std::memmove(text + to, text + from, at - from);
    to += at - from;
    std::memcpy(text + to, names[set]->data(), names[set]->size());
    to += names[set]->size();
    from = at + kNameRoom;
  }
  std::memmove(text + to, text + from, other.chains_.size() - from);
  other.chains_.resize(to + other.chains_.size() - from);
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
    append_range(*o_, f, set[0]);
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

void NftWriter::protocols(const AltFields& alt) {
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

void NftWriter::verdict_text(std::string& out, ir::Direction dir, const ir::Rule& r) {
  if (r.log) {
    out += "log prefix \"";
    (moved_ ? moved_text_ : text_).log_prefix(out, r);
    out += "\" ";
  }
  switch (r.action) {
    case ir::Action::Pass:
      out += !r.state ? "return" : dir == ir::Direction::In ? "goto keep_in" : "goto keep_out";
      break;
    case ir::Action::Block: out += "drop"; break;
    case ir::Action::Reject: out += "goto reject_packet"; break;
  }
}

void NftWriter::verdict(ir::Direction dir, const ir::Rule& r) {
  verdict_text(*o_, dir, r);
  *o_ += " comment \"";
  if (moved_) comment(*o_, r);
  else text_.comment(*o_, r);
  *o_ += "\"\n";
}

void NftWriter::rule(ir::Direction dir, const ir::Rule& r, const AltFields& alt) {
  *o_ += "\t\t";
  interfaces(dir, interface_matches_(r.match.interfaces));
  int family = linux_fw::rule_family(r.match);
  if (family >= 0 && r.match.src.empty() && r.match.dst.empty())
    *o_ += family == 0 ? "meta nfproto ipv4 " : "meta nfproto ipv6 ";
  auto f = family == 1 ? ir::Family::Inet6 : ir::Family::Inet;
  addresses(f, "saddr", r.match.src);
  addresses(f, "daddr", r.match.dst);
  protocols(alt);
  verdict(dir, r);
}

std::uint32_t NftWriter::interface_set(const ir::FieldSet<std::uint32_t>& s) {
  if (s.empty()) return 0;
  for (std::size_t k = 0; k < interface_sets_.size() && k < 16; ++k)  // a policy has few
    if (interface_sets_[k] == s) return static_cast<std::uint32_t>(k + 1);
  key_.assign(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(s[0]));
  auto [it, fresh] = interface_set_ids_.try_emplace(key_, static_cast<std::uint32_t>(interface_sets_.size() + 1));
  if (fresh) interface_sets_.push_back(s);
  return it->second;
}

bool NftWriter::shape(std::uint64_t& out, const nft_merge::Entry& e) {
  const ir::Rule& r = *e.rule;
  const AltFields alt = e.alt();
  if (alt.negate_protocols) return false;
  std::uint64_t families = r.match.families.empty() ? 4 : 0;  // bit 0 IPv4, bit 1 IPv6, 4: either
  for (const auto& f : r.match.families) {
    if (f.hi > 1) return false;
    for (unsigned v = f.lo; v <= f.hi; ++v) families |= 1u << v;
  }
  const std::uint32_t interfaces = interface_set(r.match.interfaces);
  if (interfaces >= 4096) return false;  // past 4,095 interface sets, no merging
  std::size_t product = std::max<std::size_t>(r.match.src.size(), 1) * std::max<std::size_t>(r.match.dst.size(), 1);
  const bool ports = !alt.sport.empty() || !alt.dport.empty();
  // the protocol's part: th of one protocol (6, 17, 132), or none, icmp, icmpv6, meta l4proto
  std::uint64_t form = 250;
  if (!alt.icmp_types.empty()) {
    form = alt.protocols[0].lo == ir::proto::icmp ? 251 : 252;
    product *= alt.icmp_types.size();
  } else if (ports && is_single(alt.protocols)) {
    form = alt.protocols[0].lo;
  } else if (!alt.protocols.empty()) {
    form = 253;
    product *= alt.protocols.size();
  }
  product *= std::max<std::size_t>(alt.sport.size(), 1) * std::max<std::size_t>(alt.dport.size(), 1);
  if (product > 64 || (form == 250 && r.match.src.empty() && r.match.dst.empty())) return false;  // no values
  std::uint64_t fields = (r.match.src.empty() ? 0 : 1) | (r.match.dst.empty() ? 0 : 2) | (alt.sport.empty() ? 0 : 4) |
                         (alt.dport.empty() ? 0 : 8);
  // effect: 32 bits, interfaces 12, families 3, form 8, fields 4
  out = std::uint64_t{e.effect} | std::uint64_t{interfaces} << 32 | families << 44 | form << 47 | fields << 55;
  return true;
}

void NftWriter::plan(ir::Direction dir, std::span<const std::uint32_t> order) {
  auto& entries = entries_[static_cast<int>(dir)];
  // Classes: the effect and the shape (numbered from 0). A labelled effect
  // keeps the class of its first shape itself: most labels name one rule,
  // and a table entry for each would make the table large and slow.
  struct Label {
    std::uint32_t effect = 0;          ///< 0: not met yet
    std::uint32_t shape = UINT32_MAX;  ///< of the first entry with a class
    std::uint32_t klass = nft_merge::kAlone;
  };
  // Labelled effects: by label number and action (and state), 6 a label.
  std::vector<Label> labelled;
  labelled.reserve(policy_.labels.size() * 6);
  if (labelled.capacity() >= linux_fw::kMapPagesFrom)
    support::map_now(labelled.data(), labelled.data() + labelled.capacity());
  labelled.resize(policy_.labels.size() * 6);
  std::uint32_t labels = 0;
  std::unordered_map<std::uint64_t, std::uint32_t> classes;  // the other classes, by shape()'s key
  std::uint32_t next_class = 0;
  std::uint64_t key = 0;
  entries.clear();
  entries.reserve(order.size() + order.size() / 4);
  // Each entry is placed as soon as it is made, while it and its rule are
  // in the cache.
  if (order.size() >= linux_fw::kMapPagesFrom)  // mapped at once: a third cheaper than a fault a page
    support::map_now(entries.data(), entries.data() + order.size());
  nft_merge::Planner planner(entries, order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k + kPrefetchAhead < order.size()) prefetch(policy_.rules[order[k + kPrefetchAhead]]);
    const ir::Rule& r = policy_.rules[order[k]];
    const auto views = alternatives_.of(r.match);
    // Effects: the action (and state) alone, or a log prefix of one label
    // (by its number), or of one source rule (its own: it never shares a set).
    std::uint32_t effect_id = static_cast<std::uint32_t>(r.action) * 2 + (r.action == ir::Action::Pass && r.state);
    Label* label = nullptr;
    if (r.log && !r.label_id) {
      effect_id = 0x80000000u | r.source_rule;
    } else if (r.log) {
      label = &labelled[(r.label_id - 1) * 6 + effect_id];
      if (label->effect == 0) label->effect = 16 + labels++;
      effect_id = label->effect;
    }
    for (const linux_fw::AlternativeView& view : views) {
      auto at = static_cast<std::uint32_t>(entries.size());
      nft_merge::Entry& e = entries.emplace_back(nft_merge::Entry::of(r, view));
      e.effect = effect_id;
      if (planner.place_covered(at)) continue;  // an earlier rule holds it whole: it needs no class
      if (!(effect_id & 0x80000000u) && shape(key, e)) {
        const auto look = static_cast<std::uint32_t>(key >> 32);  // the key without the effect
        if (label && (label->shape == UINT32_MAX || label->shape == look)) {
          if (label->shape == UINT32_MAX) label->shape = look, label->klass = next_class++;
          e.klass = label->klass;
        } else {
          auto [it, fresh] = classes.try_emplace(key, next_class);
          next_class += fresh;
          e.klass = it->second;
        }
      }
      planner.place(at);
    }
  }
  plans_[static_cast<int>(dir)] = planner.finish();
}

void NftWriter::group(ir::Direction dir, std::span<const std::uint32_t> members) {
  const auto& entries = entries_[static_cast<int>(dir)];
  if (members.size() >= nft_merge::min_merged) return merged(dir, members);
  for (std::uint32_t m : members) {
    moved_ = m != members[0];
    const ir::Rule& r = *entries[m].rule;
    const AltFields alt = entries[m].alt();
    if (plans_[static_cast<int>(dir)].covered_by[m] != nft_merge::kNone) {
      // no kernel rule: an earlier one decides every packet it matches
      covered(r);
      continue;
    }
    rule(dir, r, alt);
  }
  moved_ = false;
}

void NftWriter::covered(const ir::Rule& r) {
  if (&r == last_covered_) return;  // another alternative of the same rule
  last_covered_ = &r;
  if (covered_count_++) covered_ += "; ";
  if (moved_) comment(covered_, r);
  else text_.comment(covered_, r);
}

void NftWriter::covered_notes() {
  if (covered_count_ == 0) return;
  fmt::format_to(std::back_inserter(*o_),
                 "\t\t# {} {} no kernel rule here: an earlier rule decides every packet {} match{}:\n",
                 covered_count_, covered_count_ == 1 ? "rule needs" : "rules need",
                 covered_count_ == 1 ? "it" : "they", covered_count_ == 1 ? "es" : "");
  // comment lines cost nft time each: long ones, cut after a separator
  std::string_view rest = covered_;
  while (!rest.empty()) {
    std::size_t cut = rest.size() <= 1000 ? rest.size() : rest.find("; ", 1000);
    if (cut == std::string_view::npos) cut = rest.size();
    *o_ += "\t\t#   ";
    *o_ += rest.substr(0, cut);
    *o_ += '\n';
    rest.remove_prefix(std::min(rest.size(), cut + 2));
  }
  covered_.clear();
  covered_count_ = 0;
  last_covered_ = nullptr;
}

/// One value of a field in a set element: a number, a range, an address block.
template <typename T>
void append_value(std::string& out, const ir::Range<T>& r) {
  linux_fw::append_number(out, r.lo);
  if (r.lo == r.hi) return;
  out += '-';
  linux_fw::append_number(out, r.hi);
}

void NftWriter::elements(const nft_merge::Entry& e, ir::Family f, bool l4proto, bool icmp, std::string_view comment) {
  // the values of each field of the key as text; each combination is one element
  std::vector<std::vector<std::string>> fields;
  auto add = [&](const auto& set, auto format) {
    if (set.empty()) return;
    auto& values = fields.emplace_back();
    for (const auto& v : set) format(values.emplace_back(), v);
  };
  auto address = [f](std::string& o, const ir::Range<ir::U128>& v) { append_range(o, f, v); };
  auto number = [](std::string& o, const auto& v) { append_value(o, v); };
  add(e.rule->match.src, address);
  add(e.rule->match.dst, address);
  if (l4proto) add(e.alt().protocols, number);
  add(e.alt().sport, number);
  add(e.alt().dport, number);
  if (icmp) add(e.alt().icmp_types, number);
  std::vector<std::size_t> at(fields.size(), 0);
  for (std::size_t k = fields.size(); k > 0;) {
    if (!elements_.empty()) elements_ += ",\n\t\t\t";
    for (std::size_t j = 0; j < fields.size(); ++j) {
      if (j) elements_ += " . ";
      elements_ += fields[j][at[j]];
    }
    elements_ += " comment \"";
    elements_ += comment;
    elements_ += '"';
    for (k = fields.size(); k > 0 && ++at[k - 1] == fields[k - 1].size(); --k) at[k - 1] = 0;  // the next combination
  }
}

void NftWriter::merged(ir::Direction dir, std::span<const std::uint32_t> members) {
  const auto& entries = entries_[static_cast<int>(dir)];
  const nft_merge::Entry& first = entries[members[0]];
  const ir::Rule& r = *first.rule;
  const AltFields alt = first.alt();
  *o_ += "\t\t";
  interfaces(dir, interface_matches_(r.match.interfaces));
  int family = linux_fw::rule_family(r.match);
  if (family >= 0 && r.match.src.empty() && r.match.dst.empty())
    *o_ += family == 0 ? "meta nfproto ipv4 " : "meta nfproto ipv6 ";
  const auto f = family == 1 ? ir::Family::Inet6 : ir::Family::Inet;
  const char* ip = f == ir::Family::Inet ? "ip" : "ip6";
  const char* addr = f == ir::Family::Inet ? "ipv4_addr" : "ipv6_addr";
  // The fields of the set's key, in the order of the selector; every member has the same.
  std::string selector, type;
  auto field = [&](std::string_view sel, std::string_view t) {
    if (!selector.empty()) selector += " . ", type += " . ";
    selector += sel;
    type += t;
  };
  if (!r.match.src.empty()) field(std::string(ip) + " saddr", addr);
  if (!r.match.dst.empty()) field(std::string(ip) + " daddr", addr);
  const bool ports = !alt.sport.empty() || !alt.dport.empty();
  const bool icmp = !alt.icmp_types.empty();
  const bool l4proto = !icmp && !alt.protocols.empty() && !(ports && is_single(alt.protocols));
  std::string th = "th";
  if (ports && !l4proto) th = alt.protocols[0].lo == ir::proto::tcp ? "tcp" : alt.protocols[0].lo == ir::proto::udp ? "udp" : "sctp";
  if (l4proto) field("meta l4proto", "inet_proto");
  if (!alt.sport.empty()) field(th + " sport", "inet_service");
  if (!alt.dport.empty()) field(th + " dport", "inet_service");
  if (icmp) {
    bool v4 = alt.protocols[0].lo == ir::proto::icmp;
    field(v4 ? "icmp type" : "icmpv6 type", v4 ? "icmp_type" : "icmpv6_type");
  }
  *o_ += selector;
  *o_ += ' ';
  // Every member's values, each element named after its rule.
  elements_.clear();
  std::string comment;
  for (std::uint32_t m : members) {
    comment.clear();
    NftWriter::comment(comment, *entries[m].rule);
    elements(entries[m], f, l4proto, icmp, comment);
  }
  named_set(type.c_str(), elements_, "rules");
  *o_ += ' ';
  verdict_text(*o_, dir, r);
  *o_ += " comment \"";
  text_.comment(*o_, r);
  fmt::format_to(std::back_inserter(*o_), " and {} more\"\n", members.size() - 1);
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
  const nft_merge::Plan& plan = plans_[static_cast<int>(dir)];
  const auto& entries = entries_[static_cast<int>(dir)];
  for (std::size_t g = 0; g < plan.groups(); ++g) {
    // The entry two steps ahead, its rule one step ahead (by then the entry
    // is in the cache, so finding the rule's address does not wait).
    if (g + 2 * kPrefetchAhead < plan.groups()) __builtin_prefetch(&entries[plan.group(g + 2 * kPrefetchAhead)[0]]);
    if (g + kPrefetchAhead < plan.groups()) prefetch(*entries[plan.group(g + kPrefetchAhead)[0]].rule);
    if (g % 1024 == 0 && plan.groups() >= linux_fw::kMapPagesFrom) text_ahead_.keep_up_now(*o_, o_->size());
    group(dir, plan.group(g));
  }
  covered_notes();
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
  if (pptp_helper_) {
    *o_ +=
        "\tchain pptp_prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n"
        "\t\tmeta nfproto ipv4 tcp dport 1723 ct helper set \"pptp\"\n\t}\n"
        "\tchain pptp_output {\n\t\ttype filter hook output priority filter; policy accept;\n"
        "\t\tmeta nfproto ipv4 tcp dport 1723 ct helper set \"pptp\"\n\t}\n";
  }
}

bool NftWriter::write(Output& result, diag::Sink& sink) {
  // One look at the rules checks them and finds stateful_ and the orders;
  // from two_threads_from rules, a thread takes each half.
  const auto n = static_cast<std::uint32_t>(policy_.rules.size());
  const bool two = n >= linux_fw::two_threads_from;
  struct Look {
    linux_fw::PolicyCheck check;
    linux_fw::FirstMatchOrder first_match;
    bool stateful = false, pptp_helper = false;
  };
  diag::Sink later_sink;
  Look look{{policy_, options_, "nft", sink}, {}}, later{{policy_, options_, "nft", later_sink}, {}};
  linux_fw::look_in_halves(policy_, [&](std::uint32_t from, std::uint32_t to, bool first) {
    Look& l = first ? look : later;
    l.first_match.reserve(first ? n : to - from);  // the first with the second's rules appended
    for (std::uint32_t i = from; i < to; ++i) {
      if (i + kPrefetchAhead < to) linux_fw::prefetch_head(policy_.rules[i + kPrefetchAhead]);
      const ir::Rule& r = policy_.rules[i];
      l.check.rule(r);
      if (r.action == ir::Action::Pass && r.state) {
        l.stateful = true;
        l.pptp_helper = l.pptp_helper || linux_fw::needs_pptp_helper(r);
      }
      l.first_match.add(i, r);
    }
  });
  look.check.take(later.check, later_sink);
  look.first_match.append(later.first_match);
  stateful_ = look.stateful || later.stateful;
  pptp_helper_ = look.pptp_helper || later.pptp_helper;
  if (!look.check.finish()) return false;
  std::array<std::vector<std::uint32_t>, 2> orders{look.first_match.take(ir::Direction::In),
                                                  look.first_match.take(ir::Direction::Out)};
  // Plans and writes a judgement, and drops its kernel rules once written:
  // at 1M rules they and their plan are ~150 MB.
  auto judge = [&orders](NftWriter& w, ir::Direction dir) {
    const auto d = static_cast<int>(dir);
    w.plan(dir, orders[d]);
    orders[d] = {};
    w.judgement(dir);
    w.entries_[d] = {};
    w.plans_[d] = {};
  };
  chains_.reserve(policy_.rules.size() * (two ? 100 : 200) + 4096);
  std::string out_chains;  // with two threads: the out judgement's chain, a part of its own
  if (!two) {
    judge(*this, ir::Direction::In);
    judge(*this, ir::Direction::Out);
  } else {  // a judgement a thread; the second one's sets are named once both are written
    NftWriter out(policy_, options_);
    out.stateful_ = stateful_;
    out.deferred_names_ = true;
    out.chains_.reserve(policy_.rules.size() * 100 + 4096);
    linux_fw::run_both([&] { judge(*this, ir::Direction::In); }, [&] { judge(out, ir::Direction::Out); });
    name_deferred(out);
    out_chains = std::move(out.chains_);
  }
  std::string tail;
  o_ = &tail;
  fixed_chains();
  base_chains();
  tail += "}\n";
  o_ = &chains_;
  std::string out =
      "#!/usr/sbin/nft -f\n"
      "# Generated by rulec. Load with `nft -f FILE`: it replaces table inet rulec\n"
      "# atomically; loading it again gives the same ruleset.\n"
      "table inet rulec {}\n"
      "delete table inet rulec\n"
      "table inet rulec {\n";
  if (pptp_helper_)
    out += "\tct helper pptp {\n\t\ttype \"pptp\" protocol tcp\n\t\tl3proto ip\n\t}\n";
  result.add(std::move(out));  // the head, the sets, the chains (by far the largest parts), the rest
  result.add(std::move(sets_));
  result.add(std::move(chains_));
  result.add(std::move(out_chains));
  result.add(std::move(tail));
  return true;
}

class NftBackend final : public Backend {
 public:
  bool emit(const ir::Policy& policy, const EmitOptions& options, Output& out, diag::Sink& sink) const override {
    return NftWriter(policy, options).write(out, sink);
  }
};

}  // namespace

std::unique_ptr<Backend> make_nft_backend() { return std::make_unique<NftBackend>(); }

}  // namespace rulec::backends
