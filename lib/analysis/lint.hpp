// The linter's entry point: every packet-analysis finding for a policy.
//
// Runs on a policy that parsed and lowered without errors. Each pass adds
// diagnostics (RC3xx lint, RC4xx VPN requirements) to the sink. `rulec lint`
// and `Policy.lint()` in Python call this one function.
#pragma once

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "syntax/ast.hpp"

namespace rulec::analysis {

/// Adds every lint finding for `policy` to `sink`. `ast` gives exact spans;
/// `sources` gives the text of suppression comments (`# rulec: ignore RCnnn`
/// on a rule's own line or the line above it), which drop that rule's findings.
void lint(const ir::Policy& policy, const ast::Policy& ast, const diag::SourceMap& sources, diag::Sink& sink);

}  // namespace rulec::analysis
