// The library's front door: read a policy, check it, lower it.
//
// A Document holds everything about one policy: its sources (for
// diagnostics), the syntax tree, the IR and the diagnostics so far. The CLI
// and the Python bindings start here and hand the Document to the later
// stages (lint, VPN check, trace, backends).
#pragma once

#include <memory>
#include <string>

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"
#include "semantics/semantics.hpp"
#include "syntax/ast.hpp"
#include "syntax/parser.hpp"

namespace rulec {

struct Document {
  diag::SourceMap sources;
  ast::Policy ast;
  ir::Policy ir;
  diag::Sink diagnostics;
  bool read = false;  ///< the root file could be read

  /// True when the policy was read and has no errors, so the IR is complete.
  bool ok() const { return read && !diagnostics.has_errors(); }
};

/// Reads, parses, checks and lowers a policy.
std::unique_ptr<Document> load(syntax::Input input, const semantics::LowerOptions& options = {});

/// The same for a file path ("-" reads standard input).
std::unique_ptr<Document> load_file(const std::string& path, const semantics::LowerOptions& options = {});

/// The same for text held in memory; includes resolve against `base_dir`.
std::unique_ptr<Document> load_text(std::string text, std::string name = "<string>", std::string base_dir = "",
                                     const semantics::LowerOptions& options = {});

}  // namespace rulec
