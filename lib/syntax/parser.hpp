// The syntax stage: text to syntax tree. The only code that talks to PEGTL.
//
// parse_text reads one file; load_policy reads a root file and everything it
// includes (relative to the including file, each file once, cycles are an
// error) and puts the statements in reading order. Syntax errors become
// diagnostics (RC1xx); after an error the parser goes on at the next
// statement, so one run reports every broken line.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "diag/diagnostic.hpp"
#include "syntax/ast.hpp"

namespace rulec::syntax {

/// Parses the text of `file_id` (already in `sources`) and appends its
/// statements to `policy`. Include statements are recorded, not followed.
///
/// A file of `two_threads_from` bytes or more that is parsed into an empty
/// policy (a root file; included files never are) is parsed on two threads,
/// each part into a tree of its own, the trees then appended in order. The
/// result is the one-thread parse's, to the last symbol id and byte offset;
/// from a part with a syntax error on, the file is parsed again on one
/// thread, for exactly the one-thread diagnostics.
void parse_text(ast::Policy& policy, const diag::SourceMap& sources, std::uint32_t file_id, diag::Sink& sink);

/// Counts the line ends ('\n') in [from, end) onto `line`, and sets
/// `line_start` to the offset from `base` of the line after the last one
/// (unchanged when there is none).
void count_lines(const char* base, const char* from, const char* end, std::uint32_t& line,
                 std::uint32_t& line_start);

/// Root files from this size on (bytes) are parsed on two threads, when the
/// machine has two CPUs (parse_text); SIZE_MAX never splits a file. Tests
/// lower it to split small files; the result is the same either way.
/// Measured on 2 vCPUs: a 4 MB file (60,000 rules) parses as fast either
/// way, 6.7 MB (100,000 rules) 2-4 ms faster on two threads, 67 MB (1M
/// rules) 0.03-0.05 s faster (0.21-0.22 s instead of 0.25-0.26 s). It was
/// 8 MB; at 4 MB the 100k compile for nft is 0.113 s instead of 0.118 s
/// (front end 0.050 s instead of 0.053 s; medians of 16, alternated), and
/// 70,000 rules (4.7 MB) as fast either way.
inline std::size_t two_threads_from = std::size_t(4) << 20;
/// How many files were parsed on two threads to their end (no part parsed
/// again on one thread for an error), for tests.
inline std::atomic<std::size_t> two_thread_parses{0};

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
