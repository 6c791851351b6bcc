// The lint passes, in the order they run.
#include "analysis/lint.hpp"

#include "vpn/require.hpp"

namespace rulec::analysis {

void lint(const ir::Policy& policy, const ast::Policy& ast, diag::Sink& sink) {
  (void)ast;
  vpn::lint_requirements(policy, sink);
  // Packet-analysis passes (issue 3) and VPN requirements (issue 4) are added here.
}

}  // namespace rulec::analysis
