// The syntax stage: text to syntax tree. The only code that talks to PEGTL.
//
// parse_text reads one file; load_policy reads a root file and everything it
// includes (relative to the including file, each file once, cycles are an
// error) and puts the statements in reading order. Syntax errors become
// diagnostics (RC1xx); after an error the parser goes on at the next
// statement, so one run reports every broken line.
#pragma once

#include <string>

#include "diag/diagnostic.hpp"
#include "syntax/ast.hpp"

namespace rulec::syntax {

/// Parses the text of `file_id` (already in `sources`) and appends its
/// statements to `policy`. Include statements are recorded, not followed.
void parse_text(ast::Policy& policy, const diag::SourceMap& sources, std::uint32_t file_id, diag::Sink& sink);

/// Where the root of a policy comes from.
struct Input {
  std::string name;      ///< file name as shown in diagnostics ("-" or "<stdin>" for stdin)
  std::string text;      ///< the text, when `from_file` is false
  bool from_file = true; ///< read `name` from disk
  std::string base_dir;  ///< where includes of a text input are resolved ("" = current directory)
};

/// Reads (when asked), parses and follows includes. Unreadable files are
/// diagnostics (RC001 for the root, RC102 for includes); statements of
/// included files follow their include statement in `policy.statements`.
/// Returns false when the root could not be read at all.
bool load_policy(Input input, ast::Policy& policy, diag::SourceMap& sources, diag::Sink& sink);

/// True for the names of standard input: `-`, `/dev/stdin` and `/dev/fd/0`
/// (read as stdin, a pipe included, rather than refused like a FIFO).
bool names_stdin(const std::string& name);

/// Reads a whole regular file. Refuses directories, devices and FIFOs (so
/// `/dev/zero` cannot hang the reader) and files over `max_bytes`. On
/// failure returns false and sets `error` to a sentence ("is a directory").
bool read_regular_file(const std::string& path, std::string& out, std::string& error,
                       std::size_t max_bytes = std::size_t(1) << 30);

}  // namespace rulec::syntax
