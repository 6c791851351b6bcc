// The canonical formatter behind `rulec fmt`.
//
// One statement a line, single spaces, `, ` between clauses and options,
// lists as `{ a, b }` (one value a line when the line would pass 100
// columns), addresses in their canonical text, comments and single blank
// lines kept where they stand. Comments written inside a statement (inside a
// multi-line list) move to the line above it. parse(fmt(x)) == parse(x), and
// fmt(fmt(x)) == fmt(x).
#pragma once

#include <string>

#include "diag/source.hpp"
#include "syntax/ast.hpp"

namespace rulec::syntax {

/// The canonical text of one file of `policy` (includes are not expanded).
std::string format_file(const ast::Policy& policy, const diag::SourceMap& sources, std::uint32_t file_id);

}  // namespace rulec::syntax
