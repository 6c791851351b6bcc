// The table of diagnostic codes: one row per code, for the whole project.
//
// Ranges: RC0xx input and usage, RC1xx syntax, RC2xx names and values,
// RC3xx packet analysis (lint), RC4xx VPN reachability, RC5xx backends.
// A code, once published, keeps its meaning.
#pragma once

#include <span>
#include <string_view>

namespace rulec::diag {

struct CodeInfo {
  const char* code;     ///< "RC201"
  const char* name;     ///< short kebab-case name, "port-out-of-range"
  const char* summary;  ///< one line for --explain, SARIF and the README
};

/// Every code, sorted by code.
std::span<const CodeInfo> all_codes();
/// The row for a code, or nullptr.
const CodeInfo* find_code(std::string_view code);

}  // namespace rulec::diag
