// A large root file parsed on two threads: this thread parses the first part
// of the file into the policy; the second thread parses the rest, in pieces,
// each into a tree of its own, and this thread appends the pieces in order
// (the first ones while the second thread still parses the later ones).
// Appending takes time too, so the second thread gets the larger share; and
// a tree is used again for a later piece once appended, so that fewer fresh
// pages are mapped.
//
// Why the result is exactly the one-thread parse's. Every cut is at a line
// start, after a '\n'. When the text before a cut, parsed as a file that ends
// there, has no error, the one-thread parse reaches the cut at `file`'s
// top-level loop with the same actions run: the two parses differ only in
// what a rule finds at the cut (the end of the input, or the next line), and
// only one rule of the grammar looks past a line end without ending its
// statement there, the padding inside `{ ... }` (`lsp`); strings and
// comments stop at the line end. A list still open at the cut would find the
// end of the input where it needs its '}', an error. So in a clean part
// nothing but the top-level loop looked at the cut, and there every
// statement and blank line ends at a line end. That loop is then where it
// is at the start of a file, and no rule looks back before where its input
// starts (the actions that do, for trailing blanks and own-line comments,
// read the file's bytes through the Builder's `base`, the start of the file,
// whichever part they parse), so one thread goes on from the cut exactly as
// the next part's parse does, with the same symbols in the same order of
// first appearance: ast::append() gives each piece's symbols and indices the
// ones one tree would have given them. A part with an error decides
// nothing: the parts before it are what one thread makes of the text up to
// its cut, and the caller's one-thread driver goes on from there, as it
// does at a statement after an error, for one thread's diagnostics and
// recovery.
#include "syntax/two_threads.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "syntax/parser.hpp"

namespace rulec::syntax {
namespace {

/// The second thread's share of the file, and the pieces it is cut into.
/// Measured on a 1M-rule policy (67 MB) on 2 vCPUs: 0.6 or 0.65 and 8 pieces
/// were best (0.19-0.21 s at the quietest, one thread 0.24 s); 0.7, 4 or 16
/// pieces took 0.01 s more, one piece (a half each) 0.03-0.04 s more.
constexpr double kSecondShare = 0.6;
constexpr std::size_t kPieces = 8;
/// Parts from this size on have their arrays mapped ahead (as in parser.cpp).
constexpr std::size_t kMapFrom = std::size_t(1) << 20;

bool fresh(const ast::Policy& p) {
  return p.statements.empty() && p.clauses.empty() && p.values.empty() && p.addresses.empty() &&
         p.requirements.empty() && p.comments.empty() && p.blank_lines.empty() && p.includes == 0 &&
         p.definitions.empty() && p.symbols.size() == 1;
}

/// Empties a tree, keeping its arrays' memory.
void clear(ast::Policy& p) {
  p.statements.clear();
  p.clauses.clear();
  p.values.clear();
  p.addresses.clear();
  p.requirements.clear();
  p.comments.clear();
  p.blank_lines.clear();
  p.includes = 0;
  p.definitions.clear();
  p.symbols = ast::Symbols();
}

bool starts_statement(std::string_view line) {
  for (std::string_view kw : {"pass ", "block ", "reject ", "default ", "service ", "vpn ", "include ", "require "})
    if (line.substr(0, kw.size()) == kw) return true;
  return false;
}

/// A line start after `at`, preferably one with a statement keyword at its
/// column 0 (a cut inside a multi-line list would only cost a second parse);
/// 0 when there is none.
std::size_t line_start_after(std::string_view text, std::size_t at) {
  std::size_t first = 0;
  for (int line = 0; line < 64; ++line) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos || nl + 1 >= text.size()) break;
    at = nl + 1;
    if (first == 0) first = at;
    if (starts_statement(text.substr(at, 8))) return at;
  }
  return first;
}

/// The pieces of the second thread, handed over as each is parsed.
class Pieces {
 public:
  struct Piece {
    std::size_t begin = 0, end = 0;
    std::unique_ptr<ast::Policy> tree;
    bool clean = false;
  };

  std::vector<Piece> piece;
  std::atomic<bool> stop{false};  ///< the first thread is done with them: parse no more

  /// The second thread's work.
  void parse_all(const std::string& text, std::uint32_t file_id, ParsePart parse_part) {
    std::optional<support::PageMapper> mapper;
    if (!piece.empty() && piece[0].end - piece[0].begin >= kMapFrom) mapper.emplace();
    for (Piece& p : piece) {
      std::unique_ptr<ast::Policy> tree;
      bool clean = false;
      try {
        tree = take_tree();
        if (!stop) {
          reserve_for(*tree, p.end - p.begin);
          clean = parse_part(*tree, file_id, text, p.begin, p.end, mapper ? &*mapper : nullptr);
        }
      } catch (...) {  // out of memory: the first thread parses the file again, and fails there too
        clean = false;
      }
      if (!clean) stop = true;  // the file is parsed again on one thread: the later pieces are not needed
      std::lock_guard<std::mutex> lock(mutex_);
      p.tree = std::move(tree);
      p.clean = clean;
      ++done_;
      changed_.notify_all();
    }
  }

  /// Waits until piece `i` is parsed.
  Piece& wait_for(std::size_t i) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return done_ > i; });
    return piece[i];
  }

  /// Gives the tree of an appended piece back, for a later piece.
  void recycle(Piece& p) {
    if (!p.tree) return;
    clear(*p.tree);
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(p.tree));
  }

 private:
  std::unique_ptr<ast::Policy> take_tree() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        auto tree = std::move(free_.back());
        free_.pop_back();
        return tree;
      }
    }
    return std::make_unique<ast::Policy>();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t done_ = 0;  ///< pieces parsed so far
  std::vector<std::unique_ptr<ast::Policy>> free_;
};

/// The line (1-based) of `text` at `cut`, a line start after every statement
/// of `policy` (whose lines are the file's): counted on from its last statement.
std::uint32_t line_at(const ast::Policy& policy, const std::string& text, std::size_t cut) {
  std::uint32_t line = 1, line_start = 0;
  std::size_t from = 0;
  if (!policy.statements.empty()) {
    line = policy.statements.back().line;
    from = policy.statements.back().begin;
  }
  count_lines(text.data(), text.data() + from, text.data() + cut, line, line_start);
  return line;
}

/// Maps the pages where ast::append(to, from) will put `from`'s elements (the
/// arrays have room for the whole file): a third cheaper than the faults.
void map_destination(const ast::Policy& to, const ast::Policy& from) {
  auto room = [](const auto& into, const auto& more) {
    support::map_now(into.data() + into.size(), into.data() + std::min(into.capacity(), into.size() + more.size()));
  };
  room(to.statements, from.statements);
  room(to.clauses, from.clauses);
  room(to.values, from.values);
  room(to.addresses, from.addresses);
}

/// Cuts [from, text.size()) into about kPieces pieces at line starts; false when it cannot.
bool cut(const std::string& text, std::size_t from, Pieces& pieces) {
  std::size_t begin = from;
  for (std::size_t i = 1; i <= kPieces; ++i) {
    std::size_t end =
        i == kPieces ? text.size() : line_start_after(text, from + (text.size() - from) * i / kPieces);
    if (end <= begin) continue;  // a long line: fewer pieces
    Pieces::Piece& p = pieces.piece.emplace_back();
    p.begin = begin;
    p.end = end;
    begin = end;
  }
  return begin == text.size() && !pieces.piece.empty();
}

}  // namespace

std::size_t parse_on_two_threads(ast::Policy& policy, std::uint32_t file_id, const std::string& text,
                                 ParsePart parse_part) {
  if (!fresh(policy) || std::thread::hardware_concurrency() < 2) return 0;
  const std::size_t first_end =
      line_start_after(text, static_cast<std::size_t>(static_cast<double>(text.size()) * (1 - kSecondShare)));
  Pieces pieces;
  if (first_end == 0 || !cut(text, first_end, pieces)) return 0;
  std::thread helper;
  try {
    helper = std::thread([&] { pieces.parse_all(text, file_id, parse_part); });
  } catch (const std::system_error&) {
    return 0;  // no thread to be had: one thread it is
  }
  std::size_t parsed = 0;  // the text before it is in `policy`
  try {
    std::optional<support::PageMapper> mapper;
    if (first_end >= kMapFrom) mapper.emplace();
    if (parse_part(policy, file_id, text, 0, first_end, mapper ? &*mapper : nullptr)) parsed = first_end;
    for (std::size_t i = 0; parsed != 0 && i < pieces.piece.size(); ++i) {
      Pieces::Piece& piece = pieces.wait_for(i);
      if (!piece.clean) break;
      map_destination(policy, *piece.tree);
      ast::append(policy, *piece.tree, line_at(policy, text, piece.begin) - 1);
      pieces.recycle(piece);
      parsed = piece.end;
    }
  } catch (...) {
    pieces.stop = true;
    helper.join();
    throw;
  }
  pieces.stop = true;
  helper.join();
  if (parsed == 0) clear(policy);  // the first part's statements before its error
  if (parsed == text.size()) ++two_thread_parses;
  return parsed;
}

}  // namespace rulec::syntax
