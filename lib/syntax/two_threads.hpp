// Inside the syntax stage: a large root file parsed on two threads.
//
// The parser (parser.cpp) hands over how it parses a part of a file; this
// cuts the file at line starts, parses the parts on two threads into trees
// of their own and appends them in order, so that the result is the tree one
// thread would have built, to the last symbol id and byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "support/page_mapper.hpp"
#include "syntax/ast.hpp"

namespace rulec::syntax {

/// Parses [begin, end) of `text` (file `file_id`) into `tree` as a file of
/// its own, byte offsets from the start of `text`, lines counted from 1 at
/// `begin`, its arrays mapped ahead by `mapper` when given; false at the
/// first syntax error.
using ParsePart = bool (*)(ast::Policy& tree, std::uint32_t file_id, const std::string& text, std::size_t begin,
                           std::size_t end, support::PageMapper* mapper);

/// Room in every array of `policy` for what a text of `bytes` can hold
/// (pages are touched only as they are used).
void reserve_for(ast::Policy& policy, std::size_t bytes);

/// Parses `text` into `policy` on two threads when `policy` is still empty
/// (a root file) and a second CPU is there. Returns how far it got:
/// text.size() when the whole file is parsed; else a line start (0 when it
/// did not split the file, or the first part had a syntax error) where the
/// caller goes on with one thread, `policy` then holding exactly what one
/// thread would have made of the text before it: the part with the error
/// and everything after it are parsed again, for exactly one thread's
/// diagnostics.
std::size_t parse_on_two_threads(ast::Policy& policy, std::uint32_t file_id, const std::string& text,
                                 ParsePart parse_part);

}  // namespace rulec::syntax
