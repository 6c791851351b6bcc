// Per-rule suppression comments: `# rulec: ignore RC301` (or `ignore RC301, RC303`;
// a bare `# rulec: ignore` drops every finding of the rule).
//
// The comment stands at the end of the rule's own line or alone on the line
// just above the rule. It drops findings whose main location lies inside that
// rule; findings elsewhere that merely mention the rule in a note stay.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diag/diagnostic.hpp"
#include "syntax/ast.hpp"

namespace rulec::analysis {

class Suppressions {
 public:
  Suppressions(const ast::Policy& ast, const diag::SourceMap& sources);
  /// True when a suppression comment on the diagnostic's rule names its code.
  bool suppresses(const diag::Diagnostic& d) const;

 private:
  struct Entry {
    diag::Location rule;
    std::vector<std::string> codes;  ///< empty: every code
  };
  std::vector<Entry> entries_;
};

/// The codes of a suppression comment's text ("# rulec: ignore RC301"), or
/// nullopt when the comment is not one. An empty list means every code.
std::optional<std::vector<std::string>> parse_suppression(std::string_view comment);

}  // namespace rulec::analysis
