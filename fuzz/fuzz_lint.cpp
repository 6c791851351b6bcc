// Fuzz target: parse, lower and lint.
//
// Every diagnostic of every stage has a known code and points inside the
// file; rendering works in every format; the linter is deterministic; fmt
// changes no finding (its output has the same lint codes as the input).
#include "analysis/lint.hpp"
#include "fuzz_support.hpp"

using namespace rulec;

namespace {

/// Lints a parsed policy (when it lowered cleanly) and returns the rendered findings.
std::string lint_text(fuzz::Parsed& p) {
  if (!p.ok()) return {};
  analysis::lint(p.ir, p.ast, p.sources, p.sink);
  fuzz::check_diagnostics(p.sink, p.sources);
  p.sink.sort();
  return diag::render(p.sink.all(), p.sources, diag::Format::Json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto x = fuzz::parse(text, true);
  fuzz::check_diagnostics(x->sink, x->sources);
  if (!x->ok()) return 0;
  std::string first = lint_text(*x);
  auto again = fuzz::parse(text, true);
  std::string second = lint_text(*again);
  RULEC_FUZZ_CHECK(first == second, "lint is not deterministic", first, second);

  auto y = fuzz::parse(syntax::format_file(x->ast, x->sources, 0), true);
  RULEC_FUZZ_CHECK(y->ok(), "fmt's output does not lower cleanly", x->text(), y->text());
  lint_text(*y);
  std::string codes_x = fuzz::codes_of(x->sink), codes_y = fuzz::codes_of(y->sink);
  RULEC_FUZZ_CHECK(codes_x == codes_y, "fmt changed the lint findings", codes_x, codes_y);
  return 0;
}
