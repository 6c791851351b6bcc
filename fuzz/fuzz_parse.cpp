// Fuzz target: the parser and the formatter.
//
// Any bytes: parsing never crashes and its diagnostics point inside the file.
// Text that parses: fmt's output parses to the same tree, fmt is idempotent,
// the same checks fire, the IR is the same, and the evaluator gives the same
// verdicts for a few packets before and after fmt.
#include "fuzz_support.hpp"

using namespace rulec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto x = fuzz::parse(std::string(reinterpret_cast<const char*>(data), size), true);
  fuzz::check_diagnostics(x->sink, x->sources);
  if (!x->syntax_ok) return 0;

  std::string once = syntax::format_file(x->ast, x->sources, 0);
  auto y = fuzz::parse(once, true);
  RULEC_FUZZ_CHECK(y->syntax_ok, "fmt's output does not parse", x->text(), once);
  std::string dump_x = ast::dump(x->ast, 0), dump_y = ast::dump(y->ast, 0);
  RULEC_FUZZ_CHECK(dump_x == dump_y, "parse(fmt(x)) is not parse(x)", dump_x, dump_y);
  std::string twice = syntax::format_file(y->ast, y->sources, 0);
  RULEC_FUZZ_CHECK(once == twice, "fmt is not idempotent", once, twice);

  std::string codes_x = fuzz::codes_of(x->sink), codes_y = fuzz::codes_of(y->sink);
  RULEC_FUZZ_CHECK(codes_x == codes_y, "fmt changed the diagnostics", codes_x, codes_y);
  if (!x->ok()) return 0;
  RULEC_FUZZ_CHECK(fuzz::same_rules(x->ir, y->ir), "fmt changed the IR", x->text(), once);
  auto packets = fuzz::probe_packets(x->ir);
  std::string before = fuzz::verdicts(x->ir, packets), after = fuzz::verdicts(y->ir, packets);
  RULEC_FUZZ_CHECK(before == after, "fmt changed a verdict", before, after);
  return 0;
}
