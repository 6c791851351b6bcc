// Symbols, names of AST enums, and the structural dump used by tests.
#include "syntax/ast.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace rulec::ast {

Symbols::Symbols() : slots_(64, 0) { intern(""); }

/// FNV-1a: words are a few bytes long, so a byte loop is as fast as anything.
std::uint32_t Symbols::hash(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

namespace {

/// The 1-8 bytes of `s` as memcpy would put them into a zeroed 64-bit
/// number, with two loads that may overlap (no call to memcpy).
std::uint64_t packed(std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  if (n >= 4) {
    std::uint32_t head, tail;
    std::memcpy(&head, b, 4);
    std::memcpy(&tail, b + n - 4, 4);
    if constexpr (std::endian::native == std::endian::little)
      return head | (static_cast<std::uint64_t>(tail) << (8 * (n - 4)));  // the overlap holds the same bytes
  } else if constexpr (std::endian::native == std::endian::little) {
    return b[0] | (static_cast<std::uint64_t>(b[n / 2]) << (8 * (n / 2))) |
           (static_cast<std::uint64_t>(b[n - 1]) << (8 * (n - 1)));
  }
  std::uint64_t bytes = 0;
  std::memcpy(&bytes, b, n);
  return bytes;
}

}  // namespace

std::uint32_t Symbols::intern(std::string_view s) {
  if (s.empty() || s.size() > 8) return intern_in_table(s);
  const std::uint64_t bytes = packed(s);
  Recent& r = recent_[(bytes * 0x9e3779b97f4a7c15ull) >> 56];
  if (r.length == s.size() && r.bytes == bytes) return r.id;
  r = {bytes, static_cast<std::uint32_t>(s.size()), intern_in_table(s)};
  return r.id;
}

std::uint32_t Symbols::intern_in_table(std::string_view s) {
  std::uint32_t h = hash(s);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    std::uint32_t slot = slots_[i];
    if (slot == 0) break;
    if (hashes_[slot - 1] == h && strings_[slot - 1] == s) return slot - 1;
  }
  strings_.emplace_back(s);
  hashes_.push_back(h);
  auto id = static_cast<std::uint32_t>(strings_.size() - 1);
  if (2 * strings_.size() > slots_.size()) grow();  // at most half full: probes stay short
  mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = id + 1;
  return id;
}

void Symbols::grow() {
  std::vector<std::uint32_t> fresh(slots_.size() * 2, 0);
  std::size_t mask = fresh.size() - 1;
  for (std::uint32_t slot : slots_) {
    if (slot == 0) continue;
    std::size_t i = hashes_[slot - 1] & mask;
    while (fresh[i] != 0) i = (i + 1) & mask;
    fresh[i] = slot;
  }
  slots_ = std::move(fresh);
}

const char* to_string(Action a) {
  switch (a) {
    case Action::Pass: return "pass";
    case Action::Block: return "block";
    case Action::Reject: return "reject";
  }
  return "?";
}

const char* to_string(Direction d) {
  switch (d) {
    case Direction::Both: return "";
    case Direction::In: return "in";
    case Direction::Out: return "out";
  }
  return "?";
}

const char* to_string(Clause::Kind k) {
  switch (k) {
    case Clause::Kind::Protocol: return "protocol";
    case Clause::Kind::From: return "from";
    case Clause::Kind::To: return "to";
    case Clause::Kind::Service: return "service";
    case Clause::Kind::Family: return "family";
    case Clause::Kind::IcmpType: return "icmp-type";
    case Clause::Kind::Leg: return "leg";
  }
  return "?";
}

void append(Policy& to, const Policy& from, std::uint32_t lines_before) {
  // Id 0, the empty string, is the only one a fresh table holds.
  std::vector<std::uint32_t> sym(from.symbols.size(), 0);
  for (std::uint32_t id = 1; id < sym.size(); ++id) sym[id] = to.symbols.intern(from.symbols.str(id));
  const auto clauses = static_cast<std::uint32_t>(to.clauses.size());
  const auto values = static_cast<std::uint32_t>(to.values.size());
  const auto addresses = static_cast<std::uint32_t>(to.addresses.size());
  const auto requirements = static_cast<std::uint32_t>(to.requirements.size());
  const auto statements = static_cast<std::uint32_t>(to.statements.size());
  for (std::uint32_t d : from.definitions) to.definitions.push_back(statements + d);
  // Each array is copied a block at a time and the block's indices moved on
  // while it is in the cache: a copy reads the other thread's tree at the
  // speed of memory, a loop of element copies waits for it.
  auto add = [](auto& into, const auto& more, auto fix) {
    constexpr std::size_t kBlock = 1024;
    into.reserve(into.size() + more.size());
    for (std::size_t at = 0; at < more.size(); at += kBlock) {
      const std::size_t first = into.size();
      into.insert(into.end(), more.begin() + static_cast<std::ptrdiff_t>(at),
                  more.begin() + static_cast<std::ptrdiff_t>(std::min(more.size(), at + kBlock)));
      for (std::size_t k = first; k < into.size(); ++k) fix(into[k]);
    }
  };
  add(to.statements, from.statements, [&](Statement& s) {
    s.first_clause += clauses;
    s.first_value += values;
    s.line += lines_before;
    s.name = sym[s.name];
    s.iface = sym[s.iface];
    s.label = sym[s.label];
    if (s.kind == Statement::Kind::Require) s.extra += requirements;
  });
  add(to.clauses, from.clauses, [&](Clause& c) {
    c.first_value += values;
    c.first_port += values;
  });
  add(to.values, from.values, [&](Value& v) {
    if (v.kind == Value::Kind::Address) v.lo += addresses;
    if (v.kind == Value::Kind::Word || v.kind == Value::Kind::Ref) v.sym = sym[v.sym];
  });
  to.addresses.insert(to.addresses.end(), from.addresses.begin(), from.addresses.end());
  for (Requirement r : from.requirements) {
    r.role = sym[r.role];
    r.via_in = sym[r.via_in];
    r.via_out = sym[r.via_out];
    r.on = sym[r.on];
    if (r.peer_value != UINT32_MAX) r.peer_value += values;
    if (r.port_value != UINT32_MAX) r.port_value += values;
    to.requirements.push_back(r);
  }
  to.comments.insert(to.comments.end(), from.comments.begin(), from.comments.end());
  to.blank_lines.insert(to.blank_lines.end(), from.blank_lines.begin(), from.blank_lines.end());
  to.includes += from.includes;
}

std::string address_text(const Policy& p, const Value& v) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v.family == 4 ? AF_INET : AF_INET6, p.address_bytes(v).data(), buf, sizeof buf);
  return v.has_prefix ? std::string(buf) + "/" + std::to_string(v.prefix) : std::string(buf);
}

namespace {

std::string dump_value(const Policy& p, const Value& v) {
  switch (v.kind) {
    case Value::Kind::Any: return "any";
    case Value::Kind::Address: return "addr(" + address_text(p, v) + ")";
    case Value::Kind::Number:
      return v.lo == v.hi ? fmt::format("num({})", v.lo) : fmt::format("num({}-{})", v.lo, v.hi);
    case Value::Kind::Word: return "word(" + p.str(v.sym) + ")";
    case Value::Kind::Ref: return "ref(" + p.str(v.sym) + ")";
  }
  return "?";
}

std::string dump_values(const Policy& p, std::span<const Value> vs) {
  std::string out = "[";
  for (std::size_t i = 0; i < vs.size(); ++i) out += (i ? " " : "") + dump_value(p, vs[i]);
  return out + "]";
}

}  // namespace

std::string dump(const Policy& p, std::uint32_t file_id) {
  static const char* kinds[] = {"rule", "default", "list", "service", "vpn", "include", "require"};
  std::string out;
  for (const Statement& s : p.statements) {
    if (s.file != file_id) continue;
    out += kinds[static_cast<int>(s.kind)];
    switch (s.kind) {
      case Statement::Kind::Rule:
      case Statement::Kind::Default:
        out += fmt::format(" {} dir={}", to_string(s.action), to_string(s.direction));
        if (s.iface) out += " on=" + p.str(s.iface);
        break;
      case Statement::Kind::Require: {
        const Requirement& r = p.requirements[s.extra];
        out += " " + p.str(s.name);
        if (r.role) out += " role=" + p.str(r.role);
        if (r.via_in) out += " via=" + p.str(r.via_in) + ":" + p.str(r.via_out);
        if (r.on) out += " on=" + p.str(r.on);
        if (r.peer_value != UINT32_MAX) out += " to=" + dump_value(p, p.values[r.peer_value]);
        if (r.port_value != UINT32_MAX) out += " port=" + dump_value(p, p.values[r.port_value]);
        break;
      }
      default:
        out += " " + fmt::format("{:?}", p.str(s.name));
    }
    for (const Clause& c : p.clauses_of(s)) {
      out += std::string(" ") + to_string(c.kind) + dump_values(p, p.values_of(c));
      if (c.port_count) out += "port" + dump_values(p, p.ports_of(c));
    }
    if (s.kind == Statement::Kind::List) out += " " + dump_values(p, p.values_of(s));
    if (s.options & OptState) out += " state";
    if (s.options & OptDone) out += " done";
    if (s.options & OptLog) out += " log";
    if (s.options & OptLabel) out += " label=" + fmt::format("{:?}", p.str(s.label));
    out += "\n";
  }
  return out;
}

}  // namespace rulec::ast
