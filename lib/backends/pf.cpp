// The pf backend: pf.conf filter rules, loaded as one ruleset with `pfctl -f`.
//
// rulec's semantics are pf's own (last match, `quick`, state per direction,
// floating states), so the translation is nearly one to one: each IR rule
// becomes one pf rule, `done` becomes `quick`, defaults become leading
// catch-all rules, and state is always written out (`keep state` /
// `no state`), because pf keeps state on pass rules unless told otherwise.
// `flags S/SA` appears only on stateful pass rules for TCP alone; a block
// rule never carries flags, which would make it miss most TCP packets.
// Address lists longer than a few blocks go into tables. Labels are the
// only free text copied into the output; they are reduced to characters pf
// reads literally (no quotes, backslashes, `$` macros or line ends).
#include <fmt/format.h>

#include <iterator>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "backends/backend.hpp"
#include "backends/output_text.hpp"

namespace rulec::backends {
namespace {

/// More address blocks than this in one rule go into a table.
constexpr std::size_t kTableThreshold = 6;
/// pf keeps labels in a fixed buffer of 64 bytes (PF_RULE_LABEL_SIZE).
constexpr std::size_t kLabelMax = 63;

using ProtoSet = ir::FieldSet<std::uint8_t>;

/// One pf rule's worth of an IR rule: pf ties ports to TCP/UDP/SCTP and
/// ICMP types to one family, so an IR rule can need several pf rules.
struct Piece {
  ProtoSet protocols;  ///< empty: any
  bool ports = false;  ///< write the IR rule's ports
  bool icmp = false;   ///< write the IR rule's ICMP types
  std::optional<ir::Family> family;
};

bool contains_zero(const auto& set) { return ir::field_contains(set, static_cast<decltype(set.front().lo)>(0)); }

/// The protocols of `m` that lie in `wanted` (a set of single values).
ProtoSet restrict(const ProtoSet& m, std::initializer_list<std::uint8_t> wanted) {
  ProtoSet out;
  for (std::uint8_t p : wanted)
    if (ir::field_contains(m, p)) out.push_back({p, p});
  return out;
}

/// Every protocol of `m` that carries neither ports nor ICMP types.
ProtoSet other_protocols(const ProtoSet& m) {
  ProtoSet out;
  for (unsigned p = 0; p < 256; ++p) {
    auto v = static_cast<std::uint8_t>(p);
    if (ir::proto::has_ports(p) || ir::proto::is_icmp(p) || !ir::field_contains(m, v)) continue;
    if (!out.empty() && out.back().hi + 1u == p)
      out.back().hi = v;
    else
      out.push_back({v, v});
  }
  return out;
}

/// Splits an IR match into pf rules. Lowering keeps ports with TCP/UDP/SCTP
/// and ICMP types with one ICMP protocol, so this is one piece in practice;
/// the general case keeps the backend exact for any IR.
void pieces_of(const ir::Match& m, std::vector<Piece>& out) {
  out.clear();
  bool ports = !m.sport.empty() || !m.dport.empty();
  bool icmp = !m.icmp_types.empty();
  if (!ports && !icmp) {
    out.push_back(Piece{m.protocols, false, false, std::nullopt});
    return;
  }
  bool zero_ports = contains_zero(m.sport) && contains_zero(m.dport);
  bool zero_icmp = contains_zero(m.icmp_types);
  if (zero_icmp) {
    ProtoSet p = restrict(m.protocols, {ir::proto::tcp, ir::proto::udp, ir::proto::sctp});
    if (!p.empty()) out.push_back({p, true, false, std::nullopt});
  }
  if (zero_ports) {
    for (auto [proto, fam] : {std::pair{ir::proto::icmp, ir::Family::Inet}, {ir::proto::icmpv6, ir::Family::Inet6}}) {
      if (!ir::field_contains(m.protocols, proto) || !ir::field_contains(m.families, static_cast<std::uint8_t>(fam)))
        continue;
      out.push_back({{{proto, proto}}, false, true, fam});
    }
  }
  if (zero_ports && zero_icmp) {
    ProtoSet p = other_protocols(m.protocols);
    if (!p.empty()) out.push_back({p, false, false, std::nullopt});
  }
}

/// One piece as rule_body() reads it: the protocols by reference.
struct PieceRef {
  const ProtoSet& protocols;
  bool ports, icmp;
  std::optional<ir::Family> family;
};

/// When pieces_of(m) is one piece of m's own protocols, without ICMP types
/// or a family (nearly every IR rule: no ports or ICMP types, or ports and
/// only TCP, UDP or SCTP), that piece; the rule is written without copying
/// its protocols into a Piece. Otherwise nullopt.
std::optional<PieceRef> one_piece(const ir::Match& m) {
  bool ports = !m.sport.empty() || !m.dport.empty();
  if (!m.icmp_types.empty()) return std::nullopt;
  if (!ports) return PieceRef{m.protocols, false, false, std::nullopt};
  if (m.protocols.empty() || (contains_zero(m.sport) && contains_zero(m.dport))) return std::nullopt;
  unsigned after = 0;  // restrict() keeps single TCP/UDP/SCTP values in ascending order as they are
  for (const auto& r : m.protocols) {
    if (r.lo != r.hi || !ir::proto::has_ports(r.lo) || r.lo < after) return std::nullopt;
    after = r.lo + 1u;
  }
  return PieceRef{m.protocols, true, false, std::nullopt};
}

const char* pf_protocol_name(unsigned p) {
  switch (p) {
    case ir::proto::icmp: return "icmp";
    case ir::proto::tcp: return "tcp";
    case ir::proto::udp: return "udp";
    case ir::proto::gre: return "gre";
    case ir::proto::esp: return "esp";
    case ir::proto::ah: return "ah";
    case ir::proto::icmpv6: return "icmp6";
    case ir::proto::sctp: return "sctp";
    default: return nullptr;
  }
}

void append_port(Line& out, const ir::Range<std::uint16_t>& r) {
  if (r.lo == r.hi) {
    out += "= ";
    append_number(out, r.lo);
  } else if (r.lo == 0) {
    out += "<= ";
    append_number(out, r.hi);
  } else if (r.hi == 65535) {
    out += ">= ";
    append_number(out, r.lo);
  } else {
    append_number(out, r.lo);
    out += ':';
    append_number(out, r.hi);
  }
}

void append_ports(Line& out, const ir::FieldSet<std::uint16_t>& set) {
  if (set.empty() || (set.size() == 1 && set[0].lo == 0 && set[0].hi == 65535)) return;
  out += " port ";
  if (set.size() == 1) return append_port(out, set[0]);
  out += "{ ";
  for (const auto& r : set) {
    append_port(out, r);
    out += ' ';
  }
  out += '}';
}

void append_protocols(Line& out, const ProtoSet& set) {
  std::size_t count = 0;
  for (const auto& r : set) count += r.hi - r.lo + 1u;
  out += count == 1 ? " proto " : " proto { ";
  for (const auto& range : set)
    for (unsigned v = range.lo; v <= range.hi; ++v) {
      const char* n = pf_protocol_name(v);
      if (n)
        out += n;
      else
        append_number(out, v);
      if (count > 1) out += ' ';
    }
  if (count > 1) out += '}';
}

class PfWriter {
 public:
  PfWriter(const ir::Policy& policy, const EmitOptions& options, diag::Sink& sink)
      : policy_(policy), options_(options), sink_(sink) {}

  bool write(std::string& out) {
    rules_.reserve(policy_.rules.size() * 128 + 4096);
    write_header(rules_);
    const std::size_t tables_at = rules_.size();  // tables, if any, go between the header and the rules
    write_defaults();
    std::uint32_t last_source = UINT32_MAX;
    for (const ir::Rule& r : policy_.rules) {
      line_.clear();  // this rule's lines, appended to the output at once
      if (r.source_rule != last_source) {
        if (options_.sources && r.origin.file < options_.sources->size()) {
          line_ += "\n# ";
          comments_.append(line_, r.origin, r.line, r.column);
          line_ += '\n';
        }
        last_source = r.source_rule;
      }
      if (!write_rule(r)) ok_ = false;
      rules_.append(line_.data(), line_.size());
    }
    if (!ok_) return false;
    if (!tables_.empty()) rules_.insert(tables_at, "\n" + tables_);  // in place: the output is never held twice
    if (out.empty())
      out = std::move(rules_);
    else
      out += rules_;
    return true;
  }

 private:
  void write_header(std::string& out) const {
    std::string from = options_.sources && options_.sources->size() > 0
                           ? comment_text(options_.sources->file(0).name())
                           : std::string("a policy");
    out += fmt::format(
        "# pf.conf filter rules generated by rulec from {}.\n"
        "# Check with `pfctl -nf FILE`, load with `pfctl -f FILE`: the whole ruleset\n"
        "# is replaced at once. rulec's semantics are pf's: the last matching rule\n"
        "# decides, `quick` decides at once, states float between interfaces.\n"
        "set state-policy floating\n",
        from);
  }

  void write_defaults() {
    bool any = false;
    for (int d = 0; d < 2; ++d) {
      const ir::Default& def = policy_.defaults[d];
      if (!def.explicit_) continue;
      if (!any) rules_ += "\n# defaults\n";
      any = true;
      const char* dir = d == 0 ? "in" : "out";
      switch (def.action) {
        case ir::Action::Pass: rules_ += fmt::format("pass {} all no state\n", dir); break;
        case ir::Action::Block: rules_ += fmt::format("block drop {} all\n", dir); break;
        case ir::Action::Reject: rules_ += fmt::format("block return {} all\n", dir); break;
      }
    }
  }

  bool write_rule(const ir::Rule& r) {
    Line& head = head_;
    if (!rule_head(r, head)) return false;
    std::string tail = rule_tail_label(r);
    if (auto p = one_piece(r.match)) return write_piece(r, head, tail, *p);
    pieces_of(r.match, pieces_);
    for (const Piece& p : pieces_)
      if (!write_piece(r, head, tail, {p.protocols, p.ports, p.icmp, p.family})) return false;
    return true;
  }

  bool write_piece(const ir::Rule& r, const Line& head, const std::string& tail, const PieceRef& p) {
    if (p.family && !r.match.families.empty() &&
        !ir::field_contains(r.match.families, static_cast<std::uint8_t>(*p.family)))
      return true;
    line_ += head.view();
    if (!rule_body(r, p)) return false;
    if (r.action == ir::Action::Pass) {
      bool tcp_only = p.protocols.size() == 1 && p.protocols[0].lo == ir::proto::tcp &&
                      p.protocols[0].hi == ir::proto::tcp;
      using namespace std::string_view_literals;  // lengths known: no strlen a rule
      line_ += r.state ? (tcp_only ? " flags S/SA keep state"sv : " keep state"sv) : " no state"sv;
    }
    line_ += tail;
    line_ += '\n';
    return true;
  }

  /// action, direction, log, quick, interfaces.
  bool rule_head(const ir::Rule& r, Line& out) {
    using namespace std::string_view_literals;
    out.clear();
    out += r.action == ir::Action::Pass ? "pass"sv : r.action == ir::Action::Block ? "block drop"sv : "block return"sv;
    const auto& dirs = r.match.directions;
    if (dirs.size() == 1 && dirs[0].lo == dirs[0].hi) out += dirs[0].lo == 0 ? " in"sv : " out"sv;
    if (r.log) out += " log";
    if (r.done) out += " quick";
    const auto& ifs = r.match.interfaces;
    const auto unnamed = static_cast<std::uint32_t>(policy_.interfaces.size());
    if (ifs.empty() || (ifs.size() == 1 && ifs[0].lo == 0 && ifs[0].hi >= unnamed)) return true;
    std::size_t count = 0;
    for (const auto& range : ifs)
      for (std::uint32_t i = range.lo; i <= range.hi; ++i, ++count) {
        if (i >= unnamed) {
          error(r, "RC541", "pf cannot match 'every interface the policy does not name' in one rule",
                "name the interfaces this rule is for");
          return false;
        }
        if (!interface_ok(i)) {
          error(r, "RC542",
                fmt::format("interface name '{}' cannot be written in pf.conf", comment_text(policy_.interfaces[i])),
                "use an interface name of letters, digits, '_', '.' and '-'");
          return false;
        }
      }
    out += count == 1 ? " on " : " on { ";
    for (const auto& range : ifs)
      for (std::uint32_t i = range.lo; i <= range.hi; ++i) {
        out += std::string_view(policy_.interfaces[i]);
        if (count > 1) out += ' ';
      }
    if (count > 1) out += '}';
    return true;
  }

  /// valid_interface() of interface `i`, worked out once.
  bool interface_ok(std::uint32_t i) {
    if (interface_ok_.empty()) interface_ok_.assign(policy_.interfaces.size(), -1);
    if (interface_ok_[i] < 0) interface_ok_[i] = valid_interface(policy_.interfaces[i]);
    return interface_ok_[i] != 0;
  }

  static bool valid_interface(const std::string& name) {
    if (name.empty() || name.size() > 15) return false;
    for (char c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
    return !std::isdigit(static_cast<unsigned char>(name[0]));
  }

  /// family, protocols, addresses, ports, ICMP types.
  bool rule_body(const ir::Rule& r, const PieceRef& p) {
    const ir::Match& m = r.match;
    std::optional<ir::Family> fam = p.family;
    if (!fam && m.families.size() == 1 && m.families[0].lo == m.families[0].hi)
      fam = static_cast<ir::Family>(m.families[0].lo);
    if (fam) line_ += *fam == ir::Family::Inet ? " inet" : " inet6";
    if (!p.protocols.empty() && !(p.protocols[0].lo == 0 && p.protocols[0].hi == 255))
      append_protocols(line_, p.protocols);
    bool sport = p.ports && !m.sport.empty(), dport = p.ports && !m.dport.empty();
    if (m.src.empty() && m.dst.empty() && !sport && !dport) {
      line_ += " all";
    } else {
      if ((!m.src.empty() || !m.dst.empty()) && !fam) {
        error(r, "RC543", "an address set without one address family cannot be written in pf.conf",
              "split the rule by family");
        return false;
      }
      line_ += " from ";
      append_addresses(fam.value_or(ir::Family::Inet), m.src);
      if (sport) append_ports(line_, m.sport);
      line_ += " to ";
      append_addresses(fam.value_or(ir::Family::Inet), m.dst);
      if (dport) append_ports(line_, m.dport);
    }
    if (p.icmp && !m.icmp_types.empty()) {
      line_ += *p.family == ir::Family::Inet ? " icmp-type " : " icmp6-type ";
      std::size_t count = 0;
      for (const auto& range : m.icmp_types) count += range.hi - range.lo + 1u;
      if (count > 1) line_ += "{ ";
      for (const auto& range : m.icmp_types)
        for (unsigned v = range.lo; v <= range.hi; ++v) {
          append_number(line_, v);
          if (count > 1) line_ += ' ';
        }
      if (count > 1) line_ += '}';
    }
    return true;
  }

  void append_addresses(ir::Family f, const ir::FieldSet<ir::U128>& set) {
    if (set.empty()) {
      line_ += "any";
      return;
    }
    if (set.size() == 1) {
      if (auto block = single_block(f, set[0])) {
        if (block->prefix == 0)
          line_ += "any";
        else
          append_block(line_, f, *block);
        return;
      }
    }
    std::vector<AddressBlock>& blocks = blocks_;
    address_blocks(f, set, blocks);
    if (blocks.size() == 1) {
      if (blocks[0].prefix == 0)
        line_ += "any";
      else
        append_block(line_, f, blocks[0]);
      return;
    }
    if (blocks.size() <= kTableThreshold) {  // `{ a b c }`, written in place
      line_ += "{ ";
      for (const auto& b : blocks) {
        append_block(line_, f, b);
        line_ += ' ';
      }
      line_ += '}';
      return;
    }
    std::string contents;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      contents += i % 8 == 0 ? (i ? " \\\n    " : "") : " ";
      append_block(contents, f, blocks[i]);
    }
    auto [it, added] = tables_by_contents_.try_emplace(contents, "");
    if (added) {
      it->second = fmt::format("<rulec_{}>", tables_by_contents_.size());
      tables_ += fmt::format("table {} const {{ {} }}\n", it->second, contents);
    }
    line_ += std::string_view(it->second);
  }

  /// ` label "text"`, with the text reduced to what pf reads literally.
  std::string rule_tail_label(const ir::Rule& r) {
    if (!r.label_id) return {};
    std::string text;
    bool changed = false;
    for (char c : policy_.label(r)) {
      auto u = static_cast<unsigned char>(c);
      bool literal = u >= 0x20 && u != 0x7f && c != '"' && c != '\\' && c != '$';
      text += literal ? c : '_';
      changed |= !literal;
    }
    if (text.size() > kLabelMax) {
      std::size_t cut = kLabelMax;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;  // keep UTF-8 whole
      text.resize(cut);
      changed = true;
    }
    if (changed && r.source_rule != last_label_warning_) {
      last_label_warning_ = r.source_rule;
      diag::Diagnostic d{diag::Severity::Warning, "RC540",
                         "pf labels hold at most 63 bytes and no quotes, backslashes, '$' or control characters; "
                         "the label is written as \"" + comment_text(text) + "\"",
                         r.origin};
      sink_.add(std::move(d));
    }
    return " label \"" + text + "\"";
  }

  void error(const ir::Rule& r, const char* code, std::string message, std::string hint) {
    diag::Diagnostic d{diag::Severity::Error, code, std::move(message), r.origin};
    d.hint = std::move(hint);
    sink_.add(std::move(d));
  }

  const ir::Policy& policy_;
  const EmitOptions& options_;
  diag::Sink& sink_;
  bool ok_ = true;
  std::uint32_t last_label_warning_ = UINT32_MAX;
  std::string tables_, rules_;
  Line line_;                   ///< the lines of the IR rule being written
  Line head_;                   ///< of the rule being written
  std::vector<Piece> pieces_;   ///< of the rule being written
  std::vector<AddressBlock> blocks_;  ///< of the address set being written
  std::vector<std::int8_t> interface_ok_;  ///< by interface index: 1 valid, 0 not, -1 not yet known
  SourceComments comments_{options_.sources};
  std::unordered_map<std::string, std::string> tables_by_contents_;
};

class PfBackend final : public Backend {
 public:
  bool emit(const ir::Policy& policy, const EmitOptions& options, Output& out, diag::Sink& sink) const override {
    std::string text;
    if (!PfWriter(policy, options, sink).write(text)) return false;
    out.add(std::move(text));
    return true;
  }
};

}  // namespace

std::unique_ptr<Backend> make_pf_backend() { return std::make_unique<PfBackend>(); }

}  // namespace rulec::backends
