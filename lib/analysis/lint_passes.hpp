// The lint passes (codes RC300-RC349), shared state and helpers.
//
// Each pass works per source rule (one line of the policy), reading the IR
// rules lowered from it, and proves its findings with packet sets
// (decisions.hpp). lint.cpp runs them in order and then applies per-rule
// suppression comments.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/decisions.hpp"
#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "syntax/ast.hpp"

namespace rulec::analysis::lint_passes {

/// What the passes share for one policy.
struct Context {
  Context(const ir::Policy& p, const ast::Policy& a, diag::Sink& s);

  const ir::Policy& policy;
  const ast::Policy& ast;
  diag::Sink& sink;
  Decisions decisions;
  /// The AST statement of each source rule.
  std::vector<const ast::Statement*> statements;
  /// Source rules already reported as deciding nothing or redundant: later
  /// passes stay quiet about them.
  std::vector<bool> reported;

  /// What a source rule decides: the packets (nullopt when they split into
  /// more than kBoxBudget boxes), and the rules that take the rest of its
  /// match. Computed once, on demand.
  struct Coverage {
    std::optional<PacketSet> decided;
    std::vector<std::uint32_t> takers;
  };
  const Coverage& coverage_of(std::uint32_t source_rule);
  /// Coverage worked out ahead, on a second thread, while the coverage
  /// pass checks the rules before (see coverage()). Only valid while none
  /// of its takers is removed: removing a rule that took none of a rule's
  /// packets changes nothing it decides.
  struct Ahead {
    enum State : std::uint8_t { Free, Working, Ready, Mine };  ///< Working and Ready: the second thread's
    std::atomic<std::uint8_t> state{Free};
    Coverage coverage;
  };
  std::unique_ptr<Ahead[]> ahead;
  /// Per source rule: the rules found holding all of it before the passes
  /// ran (Decisions::remove_covered); empty for the others.
  std::vector<std::vector<std::uint32_t>> held;
  /// Drops computed coverage (after rules were removed from `decisions`).
  void forget_decided() { covered_.assign(covered_.size(), std::nullopt); }
  void forget_decided(std::uint32_t source_rule) { covered_[source_rule].reset(); }
  /// The source location of the rule or default that decides `d`.
  std::optional<diag::Location> location_of(const Decision& d) const;
  /// "rule 12" style words for a decision, for notes and messages.
  std::string describe(const Decision& d) const;

 private:
  std::vector<std::optional<Coverage>> covered_;
};

/// RC300 shadowed, RC301 redundant, RC302 overridden.
void coverage(Context& cx);
/// RC303: overlapping rules with different actions whose order matters.
/// Reads the context only (it may run beside state_checks); findings go to `out`.
void correlated(const Context& cx, diag::Sink& out);
/// RC303 for one source rule (what correlated() adds for it); reads the
/// context only, so two threads may share the rules.
std::optional<diag::Diagnostic> correlation(const Context& cx, std::uint32_t source_rule);
/// RC304 contradictory clauses, RC307 packets that can never occur.
void never_match(Context& cx);
/// RC305 state on block/reject, RC306 a pass without state whose replies are
/// blocked; findings go to `out`.
void state_checks(Context& cx, diag::Sink& out);
/// The state checks of one source rule (what state_checks() adds for it).
/// Two threads may share the rules: each touches only its rule's
/// coverage.
void state_checks_of(Context& cx, std::uint32_t source_rule, diag::Sink& out);

/// Adds one note per distinct rule or default among `parts` (at most
/// kMaxNotes; the last note counts the rest).
void add_notes(const Context& cx, diag::Diagnostic& diag, const std::vector<const Decision*>& parts,
               const std::string& message);

/// A decided set that splits into more boxes than this is not computed
/// exactly; the questions that need it are left open (no finding).
inline constexpr std::size_t kBoxBudget = 64;

/// A question about one rule that needs a look at more rules of the index
/// than this is left open (no finding): it bounds the work per rule on
/// policies where broad rules overlap a fixed share of all rules.
inline constexpr std::size_t kMaxLooks = 4096;

/// From this many IR rules on, passes share their work with a second thread.
inline constexpr std::size_t kTwoThreads = Decisions::kTwoThreads;

/// At most this many notes name other rules; the rest are counted.
inline constexpr std::size_t kMaxNotes = 3;

/// "pass", "block", "reject" as a verb for messages ("passes", "blocks", "rejects").
const char* verb(ir::Action a);

}  // namespace rulec::analysis::lint_passes
