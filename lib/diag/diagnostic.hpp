// Diagnostics: values that every stage adds to a sink, rendered once.
//
// A diagnostic has a severity, a stable code (RC101), a message, a main
// location, a few labelled secondary locations ("shadowed by this rule"), an
// optional fix hint and an optional witness packet. Codes are listed in
// codes.hpp, one table for the whole project. Rendering to text (gcc/clang
// shape with a caret), JSON and SARIF lives in render.cpp.
#pragma once

#include <string>
#include <vector>

#include "diag/source.hpp"

namespace rulec::diag {

enum class Severity { Note, Warning, Error };
const char* to_string(Severity s);

/// A secondary location with a short message ("shadowed by this rule").
struct Label {
  Location loc;
  std::string message;
};

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string code;      ///< "RC101"
  std::string message;   ///< one sentence, no trailing period
  Location loc;
  bool has_loc = true;   ///< false for whole-run problems (unreadable file given on the command line)
  std::vector<Label> notes;
  std::string hint;      ///< "fix: ..." line, optional
  std::string witness;   ///< a packet in trace syntax, optional
};

/// Where diagnostics go. Passes after the syntax stage never throw: they add here.
class Sink {
 public:
  void add(Diagnostic d) { diags_.push_back(std::move(d)); }
  const std::vector<Diagnostic>& all() const { return diags_; }
  std::vector<Diagnostic>& all() { return diags_; }
  std::size_t count(Severity s) const;
  bool has_errors() const { return count(Severity::Error) > 0; }
  /// Stable order: by file, then position, then code.
  void sort();

 private:
  std::vector<Diagnostic> diags_;
};

enum class Format { Text, Json, Sarif };

/// Renders every diagnostic in `diags`. Text is the gcc/clang shape:
/// `file:line:col: severity: message [RCnnn]`, the source line, a caret
/// (tabs kept so it lines up), then notes, the hint and the witness.
std::string render(const std::vector<Diagnostic>& diags, const SourceMap& sources, Format fmt);

}  // namespace rulec::diag
