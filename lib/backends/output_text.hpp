// Small text helpers shared by the pf and Windows backends.
//
// Address ranges of the IR become CIDR blocks (what every firewall syntax
// accepts), and text copied from the policy into a comment of the output
// (file names) is made inert: a comment can never end early and let the
// rest of a line be read as configuration.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diag/source.hpp"
#include "ir/ir.hpp"

namespace rulec::backends {

/// Appends a number in decimal.
void append_number(std::string& out, std::uint64_t v);
/// Appends ir::format_address(f, a) (inet_ntop's text), without inet_ntop's
/// sprintf or a temporary string.
void append_address(std::string& out, ir::Family f, ir::U128 a);

/// Finds the line and column of rule after rule: backends write rules in
/// source order or in reverse, so the next rule is usually a line away and
/// its line is found by counting the line ends between. Reads only the
/// text, so finders on several threads may share a source map.
class LineFinder {
 public:
  /// The same as sources.file(loc.file).line_col(loc.begin). `line`, when
  /// not 0, is loc's line already known (ir::Rule::line): only the column is found.
  diag::LineCol find(const diag::SourceMap& sources, const diag::Location& loc, std::uint32_t line = 0);

 private:
  std::uint32_t file_ = UINT32_MAX, offset_ = 0, line_ = 1;
};

/// One CIDR block: `base/prefix`.
struct AddressBlock {
  ir::U128 base = 0;
  unsigned prefix = 0;
};

/// Bits in an address of the family (32 or 128).
constexpr unsigned address_bits(ir::Family f) { return f == ir::Family::Inet ? 32 : 128; }

/// Splits an address set into the fewest CIDR blocks that cover it exactly.
/// An empty set (any address) gives one block of prefix 0.
std::vector<AddressBlock> address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set);
/// The same into `out` (cleared first), so a backend reuses one buffer.
void address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set, std::vector<AddressBlock>& out);

/// "192.0.2.0/24", or the bare address for a host block ("192.0.2.7").
std::string format_block(ir::Family f, const AddressBlock& b);

/// Text safe inside a one-line comment: control characters become '?'.
std::string comment_text(std::string_view text);

/// "file:line:col" of a rule's origin, made safe for a comment; "" without a source map.
std::string source_comment(const diag::SourceMap* sources, const diag::Location& loc);

/// source_comment() for rule after rule: file names made safe once, lines
/// found by a LineFinder.
class SourceComments {
 public:
  explicit SourceComments(const diag::SourceMap* sources) : sources_(sources) {}
  /// Appends source_comment(sources, loc); `line` as for LineFinder::find.
  void append(std::string& out, const diag::Location& loc, std::uint32_t line = 0);

 private:
  const diag::SourceMap* sources_;
  LineFinder lines_;
  std::vector<std::string> names_;
};

/// The one block that is exactly `r`, when address_blocks gives one.
std::optional<AddressBlock> single_block(ir::Family f, const ir::Range<ir::U128>& r);

/// Appends format_block(f, b).
void append_block(std::string& out, ir::Family f, const AddressBlock& b);

}  // namespace rulec::backends
