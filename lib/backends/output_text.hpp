// Small text helpers shared by the pf and Windows backends.
//
// Address ranges of the IR become CIDR blocks (what every firewall syntax
// accepts), and text copied from the policy into a comment of the output
// (file names) is made inert: a comment can never end early and let the
// rest of a line be read as configuration.
#pragma once

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diag/source.hpp"
#include "ir/ir.hpp"

namespace rulec::backends {

/// A line of output built in a buffer that is kept from line to line, then
/// appended to the output in one piece. A million-rule output is tens of
/// millions of pieces of a few bytes; here each costs a store or two, where
/// std::string::append costs a call into the library and one to memcpy.
class Line {
 public:
  Line() { grow(256); }
  Line(const Line&) = delete;  // data_ points into buf_: a copy would share it
  Line& operator=(const Line&) = delete;
  void clear() { n_ = 0; }
  /// Drops the bytes from `n` on (n <= size()).
  void shrink(std::size_t n) { n_ = n; }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const char* data() const { return data_; }
  std::string_view view() const { return {data_, n_}; }
  // Inlined where called, so a piece of known length is copied by a few
  // moves; only growing the buffer (rare: it is kept) is a call.
  [[gnu::always_inline]] void append(const char* s, std::size_t n) {
    if (n > room_ - n_) [[unlikely]]
      grow(n_ + n);
    std::memcpy(data_ + n_, s, n);
    n_ += n;
  }
  [[gnu::always_inline]] Line& operator+=(std::string_view s) {
    append(s.data(), s.size());
    return *this;
  }
  [[gnu::always_inline]] Line& operator+=(char c) {
    if (n_ == room_) [[unlikely]]
      grow(n_ + 1);
    data_[n_++] = c;
    return *this;
  }

 private:
  /// Makes room for at least `need` bytes, keeping the line.
  void grow(std::size_t need);

  std::string buf_;  ///< holds the bytes; its size is the room
  char* data_ = nullptr;
  std::size_t room_ = 0, n_ = 0;
};

/// Writes a number in decimal so that it ends at `end` (20 bytes of room
/// before it); returns where it starts.
char* write_number(char* end, std::uint64_t v);
/// Appends a number in decimal to a std::string or a Line.
template <typename Out>
void append_number(Out& out, std::uint64_t v) {
  char buf[20];
  char* p = write_number(buf + sizeof buf, v);
  out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

/// Room write_address needs (it may write a few bytes past the text's end).
constexpr std::size_t kAddressTextMax = 64;
/// Writes ir::format_address(f, a) (inet_ntop's text) to `buf`, without
/// inet_ntop's sprintf or a temporary string; returns its length.
std::size_t write_address(char* buf, ir::Family f, ir::U128 a);
/// Appends ir::format_address(f, a) to a std::string or a Line.
template <typename Out>
void append_address(Out& out, ir::Family f, ir::U128 a) {
  char buf[kAddressTextMax];
  out.append(buf, write_address(buf, f, a));
}

/// Finds the line and column of rule after rule: backends write rules in
/// source order or in reverse, so the next rule is usually a line away and
/// its line is found by counting the line ends between. Reads only the
/// text, so finders on several threads may share a source map.
class LineFinder {
 public:
  /// The same as sources.file(loc.file).line_col(loc.begin). `line`, when
  /// not 0, is loc's line already known (ir::Rule::line): only the column is
  /// found, unless `column` (ir::Rule::column) is known too.
  diag::LineCol find(const diag::SourceMap& sources, const diag::Location& loc, std::uint32_t line = 0,
                     std::uint32_t column = 0);

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
  /// Appends source_comment(sources, loc) to a std::string or a Line; `line`
  /// and `column` as for LineFinder::find.
  template <typename Out>
  void append(Out& out, const diag::Location& loc, std::uint32_t line = 0, std::uint32_t column = 0) {
    if (!sources_ || loc.file >= sources_->size()) return;
    out += std::string_view(name(loc.file));
    diag::LineCol lc = lines_.find(*sources_, loc, line, column);
    append_number(out, lc.line);
    out += ':';
    append_number(out, lc.column);
  }

 private:
  /// The file's name made safe for a comment, and a ':'.
  const std::string& name(std::uint32_t file);

  const diag::SourceMap* sources_;
  LineFinder lines_;
  std::vector<std::string> names_;
};

/// The one block that is exactly `r`, when address_blocks gives one.
std::optional<AddressBlock> single_block(ir::Family f, const ir::Range<ir::U128>& r);

/// Room write_block needs.
constexpr std::size_t kBlockTextMax = kAddressTextMax + 8;
/// Writes format_block(f, b) to `buf`; returns its length.
std::size_t write_block(char* buf, ir::Family f, const AddressBlock& b);
/// Appends format_block(f, b) to a std::string or a Line.
template <typename Out>
void append_block(Out& out, ir::Family f, const AddressBlock& b) {
  char buf[kBlockTextMax];
  out.append(buf, write_block(buf, f, b));
}

}  // namespace rulec::backends
