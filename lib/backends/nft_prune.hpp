// Leaving out the rules that never decide a packet (`rulec --prune`).
//
// Lint proves which rules are shadowed (RC300: rules of higher precedence,
// earlier `done` rules or later ones, take every packet they match) or
// overridden (RC302: later rules decide their packets differently). Such a
// rule never decides a packet, and its findings hold together: lint judges
// each rule with the rules it reported before taken out, so deleting them all
// at once leaves every packet to the rule that decided it before, with the
// same verdict, state and log prefix. A compiled policy without them loads
// faster (nft: each kernel rule costs load time) and behaves the same.
//
// It costs a lint run (100k generated rules: about 4-5 s), so compiling does
// it only when asked. Redundant rules (RC301) stay: they decide packets
// (with the verdict the rules beneath would give), so their log prefixes
// and labels still show. A finding suppressed in the policy
// (`# rulec: ignore RC300`) keeps its rule.
#pragma once

#include <cstdint>
#include <vector>

#include "diag/source.hpp"
#include "ir/ir.hpp"
#include "syntax/ast.hpp"

namespace rulec::backends {

/// The source rules (Rule::source_rule) that lint reports RC300 or RC302
/// for, in increasing order.
std::vector<std::uint32_t> dead_source_rules(const ir::Policy& policy, const ast::Policy& ast,
                                             const diag::SourceMap& sources);

/// `policy` without the IR rules of the given source rules (sorted).
ir::Policy without_source_rules(const ir::Policy& policy, const std::vector<std::uint32_t>& sorted);

}  // namespace rulec::backends
