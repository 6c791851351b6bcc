// The lint passes, in the order they run, and per-rule suppression comments.
#include "analysis/lint.hpp"

#include "analysis/lint_passes.hpp"
#include "analysis/suppress.hpp"
#include "vpn/require.hpp"

namespace rulec::analysis {

namespace {

void run_passes(const ir::Policy& policy, const ast::Policy& ast, diag::Sink& sink) {
  if (!policy.source_rules.empty() || !policy.empty_source_rules.empty()) {
    lint_passes::Context cx(policy, ast, sink);
    lint_passes::never_match(cx);
    lint_passes::coverage(cx);
    lint_passes::correlated(cx);
    lint_passes::state_checks(cx);
  }
  vpn::lint_requirements(policy, sink);
}

}  // namespace

void lint(const ir::Policy& policy, const ast::Policy& ast, const diag::SourceMap& sources, diag::Sink& sink) {
  diag::Sink found;
  run_passes(policy, ast, found);
  Suppressions ignore(ast, sources);
  for (diag::Diagnostic& d : found.all())
    if (!ignore.suppresses(d)) sink.add(std::move(d));
}

}  // namespace rulec::analysis
