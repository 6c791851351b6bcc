// Source files and locations, shared by every stage.
//
// A location is a file id and a byte range; line and column are computed from
// the source map only when a diagnostic is printed. The source map owns the
// text of every file read, so diagnostics can quote the offending line long
// after parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rulec::diag {

/// A byte range [begin, end) in one source file.
struct Location {
  std::uint32_t file = 0;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

/// A 1-based line and column (columns count bytes, as gcc and clang do).
struct LineCol {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

/// One file's name and text, with its line starts indexed lazily.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  LineCol line_col(std::uint32_t offset) const;
  /// The text of the line containing `offset`, without its line end.
  std::string_view line_text(std::uint32_t offset) const;

 private:
  void index_lines() const;
  std::string name_;
  std::string text_;
  mutable std::vector<std::uint32_t> line_starts_;
};

/// Every file read for one policy. File ids index into it.
class SourceMap {
 public:
  /// Adds a file; returns its id.
  std::uint32_t add(std::string name, std::string text);
  const SourceFile& file(std::uint32_t id) const { return *files_.at(id); }
  std::size_t size() const { return files_.size(); }
  /// "file:line:col" for a location.
  std::string describe(const Location& loc) const;

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace rulec::diag
