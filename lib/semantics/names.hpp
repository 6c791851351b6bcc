// Name resolution for the semantic stage: lists, services, VPN profiles.
//
// Definitions are collected first (duplicates reported), then values are
// resolved by the context they stand in: a `$name` used after `port` must name
// a list of ports, after `from` a list of addresses. Use is recorded so unused
// definitions can be reported at the end.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "syntax/ast.hpp"

namespace rulec::semantics {

struct BuiltinService;

/// A resolved set of addresses, per family. `any` means no restriction.
struct AddressSet {
  bool any = false;
  ir::FieldSet<ir::U128> v4, v6;
};

/// One leg of a resolved service: a protocol and destination ports (empty: any).
struct Leg {
  std::uint8_t protocol = 0;
  ir::FieldSet<std::uint16_t> ports;
};

class Names {
 public:
  Names(const ast::Policy& p, diag::Sink& sink);

  /// Each returns false after reporting a diagnostic.
  bool addresses(const ast::Statement& s, std::span<const ast::Value> vs, AddressSet& out);
  bool ports(const ast::Statement& s, std::span<const ast::Value> vs, ir::FieldSet<std::uint16_t>& out);
  bool protocols(const ast::Statement& s, std::span<const ast::Value> vs, ir::FieldSet<std::uint8_t>& out);
  bool icmp_types(const ast::Statement& s, std::span<const ast::Value> vs, bool v6, ir::FieldSet<std::uint8_t>& out);
  bool services(const ast::Statement& s, std::span<const ast::Value> vs, std::vector<Leg>& out);
  /// Legs of a service or VPN definition statement.
  bool legs(const ast::Statement& def, std::vector<Leg>& out);

  /// Reports definitions nobody used (RC202).
  void report_unused();

 private:
  enum class Context { Address, Port, Protocol, IcmpType };
  /// Calls each(&statement, &value) for every value of `vs`, `$name` references
  /// expanded (lists may refer to lists); false after reporting an undefined
  /// or self-referring name.
  template <typename Each>
  bool each_value(const ast::Statement& s, std::span<const ast::Value> vs, Each&& each);
  void wrong_kind(const ast::Statement& s, const ast::Value& v, Context ctx);

  const ast::Policy& p_;
  diag::Sink& sink_;
  std::unordered_map<std::uint32_t, std::uint32_t> lists_, services_;  ///< name symbol -> statement index
  std::vector<bool> used_;  ///< by statement index
  std::vector<std::uint32_t> expanding_;  ///< list statements being expanded, for cycles
  /// Catalogue look-ups remembered by symbol id (a million rules name a few
  /// dozen words): kUnseen, kNotAName, or the number.
  static constexpr std::int32_t kUnseen = -2, kNotAName = -1;
  std::vector<std::int32_t> protocol_of_, port_of_, icmp_of_, icmp6_of_;
  std::vector<const BuiltinService*> service_of_;  ///< by symbol id; null: not yet looked up
  const BuiltinService* builtin(std::uint32_t sym);
  template <typename Lookup>
  std::optional<std::uint16_t> remembered(std::vector<std::int32_t>& memo, std::uint32_t sym, Lookup lookup);
};

}  // namespace rulec::semantics
