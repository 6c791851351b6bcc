// The lint passes, in the order they run, and per-rule suppression comments.
#include "analysis/lint.hpp"

#include <exception>
#include <thread>

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
    diag::Sink related, states;  // kept apart, then added in pass order
    // RC303 is looked for on a second thread while the state checks run:
    // both only read what the earlier passes settled.
    if (policy.rules.size() < lint_passes::kTwoThreads) {
      lint_passes::correlated(cx, related);
      lint_passes::state_checks(cx, states);
    } else {
      std::exception_ptr failed;
      std::thread beside([&] {
        try {
          lint_passes::correlated(cx, related);
        } catch (...) {
          failed = std::current_exception();
        }
      });
      try {
        lint_passes::state_checks(cx, states);
      } catch (...) {
        beside.join();
        throw;
      }
      beside.join();
      if (failed) std::rethrow_exception(failed);
    }
    for (diag::Sink* part : {&related, &states})
      for (diag::Diagnostic& d : part->all()) sink.add(std::move(d));
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
