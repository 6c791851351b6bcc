// The lint passes, in the order they run, and per-rule suppression comments.
#include "analysis/lint.hpp"

#include <atomic>
#include <optional>
#include <vector>

#include "analysis/lint_passes.hpp"
#include "analysis/side_by_side.hpp"
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
    if (policy.rules.size() < lint_passes::kTwoThreads) {
      lint_passes::correlated(cx, related);
      lint_passes::state_checks(cx, states);
    } else {
      // RC303 and the state checks only read what the earlier passes
      // settled (a rule's state checks touch only its own coverage). One
      // thread starts on each; the first done helps with the other (one
      // counter per pass); the findings are put back in rule order.
      const auto n = static_cast<std::uint32_t>(cx.decisions.source_rule_count());
      const auto m = static_cast<std::uint32_t>(cx.statements.size());
      std::vector<std::optional<diag::Diagnostic>> found(n);
      std::vector<diag::Sink> stated(m);
      std::atomic<std::uint32_t> next_state{0}, next_related{0};
      auto state_checks = [&] {
        for (std::uint32_t s; (s = next_state.fetch_add(1, std::memory_order_relaxed)) < m;)
          lint_passes::state_checks_of(cx, s, stated[s]);
      };
      auto correlated = [&] {
        for (std::uint32_t s; (s = next_related.fetch_add(1, std::memory_order_relaxed)) < n;)
          found[s] = lint_passes::correlation(cx, s);
      };
      side_by_side([&] { correlated(), state_checks(); }, [&] { state_checks(), correlated(); },
                   [&] { next_state = m, next_related = n; });  // the other thread stops after its current rule
      for (auto& d : found)
        if (d) related.add(std::move(*d));
      for (diag::Sink& part : stated)
        for (diag::Diagnostic& d : part.all()) states.add(std::move(d));
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
