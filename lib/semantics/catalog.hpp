// Built-in names: protocols, well-known ports, ICMP types and services.
//
// The catalogue is data, looked up by the semantic stage when it resolves
// words, and by `rulec fmt`/the README generator when they list what exists.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rulec::semantics {

struct NamedNumber {
  std::string_view name;
  std::uint16_t number;
};

/// One leg of a service: a protocol and the destination ports (none: all).
struct ServiceLeg {
  std::uint8_t protocol;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ports;
};

struct BuiltinService {
  std::string_view name;
  const char* description;
  std::vector<ServiceLeg> legs;
};

std::optional<std::uint8_t> protocol_by_name(std::string_view name);
/// The usual name of a protocol number ("gre"), or "" when it has none.
std::string_view protocol_name(unsigned number);
std::optional<std::uint16_t> port_by_name(std::string_view name);
/// ICMP (v6 = false) or ICMPv6 type names.
std::optional<std::uint8_t> icmp_type_by_name(std::string_view name, bool v6);
const BuiltinService* builtin_service(std::string_view name);

std::span<const NamedNumber> protocol_names();
std::span<const NamedNumber> port_names();
const std::vector<BuiltinService>& builtin_services();

/// The closest of `candidates` to `word` (edit distance at most 2, or a
/// prefix), for "did you mean" hints; "" when none is close.
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace rulec::semantics
