// Resolving names and values by context.
#include "semantics/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "semantics/catalog.hpp"

namespace rulec::semantics {

using ast::Statement;
using ast::Value;
using diag::Severity;

namespace {

const char* context_word(int ctx) {
  static const char* words[] = {"an address", "a port", "a protocol", "an ICMP type"};
  return words[ctx];
}

ir::U128 address_value(const ast::Policy& p, const Value& v) {
  const auto& b = p.address_bytes(v);  // network order
  std::uint64_t hi, lo;
  std::memcpy(&hi, b.data(), 8);
  std::memcpy(&lo, b.data() + 8, 8);
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  if (v.family == 4) return hi >> 32;
  return (ir::U128(hi) << 64) | lo;
}

/// Marks "looked up, not a built-in service" in Names::service_of_.
const BuiltinService kNotBuiltin{};
const BuiltinService* const kNoService = &kNotBuiltin;

std::vector<std::string> names_of(std::span<const NamedNumber> table) {
  std::vector<std::string> out;
  for (const NamedNumber& n : table) out.emplace_back(n.name);
  return out;
}

}  // namespace

Names::Names(const ast::Policy& p, diag::Sink& sink)
    : p_(p),
      sink_(sink),
      used_(p.statements.size(), false),
      protocol_of_(p.symbols.size(), kUnseen),
      port_of_(p.symbols.size(), kUnseen),
      icmp_of_(p.symbols.size(), kUnseen),
      icmp6_of_(p.symbols.size(), kUnseen),
      service_of_(p.symbols.size(), nullptr) {
  for (std::uint32_t i : p.definitions) {  // the parser's index of them: no look at every statement
    const Statement& s = p.statements[i];
    auto& table = s.kind == Statement::Kind::List ? lists_ : services_;
    auto [it, fresh] = table.emplace(s.name, i);
    if (!fresh) {
      const Statement& first = p.statements[it->second];
      diag::Diagnostic d{Severity::Error, "RC201",
                         fmt::format("'{}' is defined twice", p.str(s.name)),
                         {s.file, s.name_begin, static_cast<std::uint32_t>(s.name_begin + p.str(s.name).size())}};
      d.notes.push_back({{first.file, first.name_begin,
                          static_cast<std::uint32_t>(first.name_begin + p.str(first.name).size())},
                         "first defined here"});
      d.hint = "rename one of them, or merge the two lists";
      sink_.add(std::move(d));
    }
  }
}

template <typename Lookup>
std::optional<std::uint16_t> Names::remembered(std::vector<std::int32_t>& memo, std::uint32_t sym, Lookup lookup) {
  if (memo[sym] == kUnseen) {
    auto n = lookup(p_.str(sym));
    memo[sym] = n ? static_cast<std::int32_t>(*n) : kNotAName;
  }
  if (memo[sym] == kNotAName) return std::nullopt;
  return static_cast<std::uint16_t>(memo[sym]);
}

void Names::wrong_kind(const Statement& s, const Value& v, Context ctx) {
  static const char* kinds[] = {"'any'", "an address", "a number", "a name", "a list"};
  sink_.add({Severity::Error, "RC210",
             fmt::format("expected {} here, found {}", context_word(static_cast<int>(ctx)),
                         kinds[static_cast<int>(v.kind)]),
             p_.loc(s, v)});
}

template <typename Each>
bool Names::each_value(const Statement& s, std::span<const Value> vs, Each&& each) {
  bool ok = true;
  for (const Value& v : vs) {
    if (v.kind != Value::Kind::Ref) {
      each(&s, &v);
      continue;
    }
    auto it = lists_.find(v.sym);
    if (it == lists_.end()) {
      std::vector<std::string> known;
      for (auto& [sym, idx] : lists_) known.push_back(p_.str(sym));
      std::sort(known.begin(), known.end());
      diag::Diagnostic d{Severity::Error, "RC200", fmt::format("${} is not defined", p_.str(v.sym)), p_.loc(s, v)};
      std::string near = closest(p_.str(v.sym), known);
      d.hint = near.empty() ? fmt::format("define it first: {} = {{ ... }}", p_.str(v.sym))
                            : fmt::format("did you mean ${}?", near);
      sink_.add(std::move(d));
      ok = false;
      continue;
    }
    used_[it->second] = true;
    if (std::find(expanding_.begin(), expanding_.end(), it->second) != expanding_.end()) {
      sink_.add({Severity::Error, "RC200", fmt::format("${} refers to itself", p_.str(v.sym)), p_.loc(s, v)});
      ok = false;
      continue;
    }
    expanding_.push_back(it->second);
    const Statement& def = p_.statements[it->second];
    ok = each_value(def, p_.values_of(def), each) && ok;
    expanding_.pop_back();
  }
  return ok;
}

bool Names::addresses(const Statement& s, std::span<const Value> vs, AddressSet& out) {
  bool ok = true;
  // Values as they come, lists expanded in place: no list of them is built.
  ok = each_value(s, vs, [&](const Statement* st, const Value* v) {
    if (v->kind == Value::Kind::Any) {
      out.any = true;
      return;
    }
    if (v->kind != Value::Kind::Address) {
      wrong_kind(*st, *v, Context::Address);
      ok = false;
      return;
    }
    int bits = v->family == 4 ? 32 : 128;
    ir::U128 a = address_value(p_, *v);
    ir::U128 host_mask = v->prefix >= bits ? 0 : ((ir::U128(1) << (bits - v->prefix)) - 1);
    if (a & host_mask) {
      ir::U128 net = a & ~host_mask;
      std::string fixed = ir::format_address(v->family == 4 ? ir::Family::Inet : ir::Family::Inet6, net) + "/" +
                          std::to_string(v->prefix);
      diag::Diagnostic d{Severity::Warning, "RC205",
                         fmt::format("'{}' has host bits set; it means the network {}", ast::address_text(p_, *v), fixed),
                         p_.loc(*st, *v)};
      d.hint = fmt::format("write {} (or a /{} for the single host)", fixed, bits);
      sink_.add(std::move(d));
      a = net;
    }
    auto& set = v->family == 4 ? out.v4 : out.v6;
    set.push_back({a, a | host_mask});
  }) && ok;  // after the values: they may have set it
  ir::normalise(out.v4);
  ir::normalise(out.v6);
  return ok;
}

bool Names::ports(const Statement& s, std::span<const Value> vs, ir::FieldSet<std::uint16_t>& out) {
  bool ok = true;
  // Values as they come, lists expanded in place: no list of them is built.
  ok = each_value(s, vs, [&](const Statement* st, const Value* v) {
    if (v->kind == Value::Kind::Number) {
      if (v->lo > 65535 || v->hi > 65535) {
        sink_.add({Severity::Error, "RC204",
                   fmt::format("port {} is outside 0-65535", v->lo > 65535 ? v->lo : v->hi), p_.loc(*st, *v)});
        ok = false;
      } else if (v->lo > v->hi) {
        diag::Diagnostic d{Severity::Error, "RC204", fmt::format("port range {}-{} is inverted", v->lo, v->hi),
                           p_.loc(*st, *v)};
        d.hint = fmt::format("write {}-{}", v->hi, v->lo);
        sink_.add(std::move(d));
        ok = false;
      } else {
        out.push_back({static_cast<std::uint16_t>(v->lo), static_cast<std::uint16_t>(v->hi)});
      }
    } else if (v->kind == Value::Kind::Word) {
      if (auto n = remembered(port_of_, v->sym, port_by_name)) {
        out.push_back({*n, *n});
      } else {
        diag::Diagnostic d{Severity::Error, "RC210", fmt::format("unknown port name '{}'", p_.str(v->sym)),
                           p_.loc(*st, *v)};
        std::string near = closest(p_.str(v->sym), names_of(port_names()));
        d.hint = near.empty() ? "use a port number" : fmt::format("did you mean '{}'?", near);
        sink_.add(std::move(d));
        ok = false;
      }
    } else {
      wrong_kind(*st, *v, Context::Port);
      ok = false;
    }
  }) && ok;  // after the values: they may have set it
  ir::normalise(out);
  return ok;
}

bool Names::protocols(const Statement& s, std::span<const Value> vs, ir::FieldSet<std::uint8_t>& out) {
  bool ok = true;
  // Values as they come, lists expanded in place: no list of them is built.
  ok = each_value(s, vs, [&](const Statement* st, const Value* v) {
    if (v->kind == Value::Kind::Number) {
      if (v->lo > 255 || v->hi > 255 || v->lo > v->hi) {
        sink_.add({Severity::Error, "RC211",
                   fmt::format("protocol {} is outside 0-255", v->lo > 255 ? v->lo : v->hi), p_.loc(*st, *v)});
        ok = false;
      } else {
        out.push_back({static_cast<std::uint8_t>(v->lo), static_cast<std::uint8_t>(v->hi)});
      }
    } else if (v->kind == Value::Kind::Word) {
      if (auto n = remembered(protocol_of_, v->sym, protocol_by_name)) {
        out.push_back({static_cast<std::uint8_t>(*n), static_cast<std::uint8_t>(*n)});
      } else {
        diag::Diagnostic d{Severity::Error, "RC207", fmt::format("unknown protocol '{}'", p_.str(v->sym)),
                           p_.loc(*st, *v)};
        std::string near = closest(p_.str(v->sym), names_of(protocol_names()));
        d.hint = near.empty() ? "use a protocol number (0-255)" : fmt::format("did you mean '{}'?", near);
        sink_.add(std::move(d));
        ok = false;
      }
    } else {
      wrong_kind(*st, *v, Context::Protocol);
      ok = false;
    }
  }) && ok;  // after the values: they may have set it
  ir::normalise(out);
  return ok;
}

bool Names::icmp_types(const Statement& s, std::span<const Value> vs, bool v6, ir::FieldSet<std::uint8_t>& out) {
  bool ok = true;
  // Values as they come, lists expanded in place: no list of them is built.
  ok = each_value(s, vs, [&](const Statement* st, const Value* v) {
    if (v->kind == Value::Kind::Number && v->lo <= 255 && v->hi <= 255 && v->lo <= v->hi) {
      out.push_back({static_cast<std::uint8_t>(v->lo), static_cast<std::uint8_t>(v->hi)});
    } else if (v->kind == Value::Kind::Number) {
      sink_.add({Severity::Error, "RC211", "ICMP type is outside 0-255", p_.loc(*st, *v)});
      ok = false;
    } else if (v->kind == Value::Kind::Word) {
      auto by_name = [v6](std::string_view name) { return icmp_type_by_name(name, v6); };
      if (auto n = remembered(v6 ? icmp6_of_ : icmp_of_, v->sym, by_name)) {
        out.push_back({static_cast<std::uint8_t>(*n), static_cast<std::uint8_t>(*n)});
      } else {
        sink_.add({Severity::Error, "RC212",
                   fmt::format("unknown {} type '{}'", v6 ? "ICMPv6" : "ICMP", p_.str(v->sym)), p_.loc(*st, *v)});
        ok = false;
      }
    } else {
      wrong_kind(*st, *v, Context::IcmpType);
      ok = false;
    }
  }) && ok;  // after the values: they may have set it
  ir::normalise(out);
  return ok;
}

bool Names::legs(const Statement& def, std::vector<Leg>& out) {
  bool ok = true;
  for (const ast::Clause& c : p_.clauses_of(def)) {
    ir::FieldSet<std::uint8_t> protos;
    ok = protocols(def, p_.values_of(c), protos) && ok;
    ir::FieldSet<std::uint16_t> ps;
    if (c.port_count) ok = ports(def, p_.ports_of(c), ps) && ok;
    for (const auto& r : protos)
      for (unsigned proto = r.lo; proto <= r.hi; ++proto) {
        if (c.port_count && !ir::proto::has_ports(proto)) {
          sink_.add({Severity::Error, "RC203",
                     fmt::format("port given for protocol {}, which has no ports (only tcp, udp and sctp do)", proto),
                     p_.loc(def, c)});
          ok = false;
          continue;
        }
        out.push_back({static_cast<std::uint8_t>(proto), ps});
      }
  }
  return ok;
}

const BuiltinService* Names::builtin(std::uint32_t sym) {
  if (!service_of_[sym]) {
    const BuiltinService* b = builtin_service(p_.str(sym));
    service_of_[sym] = b ? b : kNoService;
  }
  return service_of_[sym] == kNoService ? nullptr : service_of_[sym];
}

bool Names::services(const Statement& s, std::span<const Value> vs, std::vector<Leg>& out) {
  bool ok = true;
  for (const Value& v : vs) {
    if (auto it = services_.find(v.sym); it != services_.end()) {
      used_[it->second] = true;
      ok = legs(p_.statements[it->second], out) && ok;
    } else if (const BuiltinService* b = builtin(v.sym)) {
      for (const ServiceLeg& l : b->legs) {
        Leg leg{l.protocol, {}};
        for (auto [lo, hi] : l.ports) leg.ports.push_back({lo, hi});
        out.push_back(std::move(leg));
      }
    } else {
      std::vector<std::string> known;
      for (const BuiltinService& b2 : builtin_services()) known.emplace_back(b2.name);
      for (auto& [sym, idx] : services_) known.push_back(p_.str(sym));
      diag::Diagnostic d{Severity::Error, "RC208", fmt::format("unknown service '{}'", p_.str(v.sym)), p_.loc(s, v)};
      std::string near = closest(p_.str(v.sym), known);
      d.hint = near.empty() ? "define it: service NAME = { tcp 1234, udp 5678 }"
                            : fmt::format("did you mean '{}'?", near);
      sink_.add(std::move(d));
      ok = false;
    }
  }
  return ok;
}

void Names::report_unused() {
  for (auto* table : {&lists_, &services_})
    for (auto& [sym, idx] : *table) {
      if (used_[idx]) continue;
      const Statement& s = p_.statements[idx];
      diag::Diagnostic d{Severity::Warning, "RC202",
                         fmt::format("{} '{}' is defined but never used",
                                     s.kind == Statement::Kind::List ? "list" : "service", p_.str(s.name)),
                         {s.file, s.name_begin, static_cast<std::uint32_t>(s.name_begin + p_.str(s.name).size())}};
      d.hint = "remove it, or use it in a rule";
      sink_.add(std::move(d));
    }
}

}  // namespace rulec::semantics
