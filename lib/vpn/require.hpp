// `require vpn ...` as a lint pass: a policy states which VPN must work.
//
// Each requirement (ir::Policy::requirements) runs the VPN check
// (check.hpp). A leg that does not get through is an error at the `require`
// line, with a note at the rule or default that drops it and the symptom an
// end user would see; this is what lets a pipeline refuse a change that
// breaks the office VPN. Codes: RC215 unknown profile, RC216 contradictory
// requirement, RC400-RC402 (codes.cpp).
#pragma once

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"

namespace rulec::vpn {

/// Checks every `require vpn` statement of `policy`, adding findings to `sink`.
void lint_requirements(const ir::Policy& policy, diag::Sink& sink);

}  // namespace rulec::vpn
