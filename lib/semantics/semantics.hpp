// The semantic stage: names and values checked, the AST lowered to the IR.
//
// Checks that need no packet analysis live here, each with its own code
// (RC2xx): undefined, duplicate and unused names, ports with protocols that
// have none, values out of range, host bits set, families that cannot meet,
// unknown protocols and services (with "did you mean"), missing defaults.
#pragma once

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "syntax/ast.hpp"

namespace rulec::semantics {

struct LowerOptions {
  /// false: run every check but keep no IR rules (the parse-and-check
  /// benchmark and `rulec lint` before the analysis stage need no more).
  bool keep_rules = true;
  /// Policies of at least this many statements (in a large policy nearly
  /// all of them rules) are lowered by two threads, each half of the
  /// statements; the IR and the diagnostics are those of one thread. Off by
  /// default, as is writing with two threads (linux_rules.hpp says why).
  std::size_t two_threads_from = SIZE_MAX;
  /// The policy's text, to record each IR rule's line (ir::Rule::line);
  /// without it the lines are left 0.
  const diag::SourceMap* sources = nullptr;
};

/// Checks `policy` and lowers it. Diagnostics go to `sink`; the result is
/// usable for analysis only when `sink` has no errors.
ir::Policy lower(const ast::Policy& policy, diag::Sink& sink, const LowerOptions& options = {});

}  // namespace rulec::semantics
