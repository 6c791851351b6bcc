// The grammar itself: PEGTL's analyze() finds no rule that could loop
// without consuming input, and every example in grammar/GRAMMAR.md parses.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <tao/pegtl/contrib/analyze.hpp>

#include "../../grammar/rulec_grammar.hpp"
#include "frontend.hpp"

TEST_CASE("grammar: analyze() finds no problems") {
  CHECK(tao::pegtl::analyze<rulec::grammar::file>(-1) == 0);
}

TEST_CASE("grammar: every example block in GRAMMAR.md parses without errors") {
  std::ifstream in(std::string(RULEC_SOURCE_DIR) + "/grammar/GRAMMAR.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string md = ss.str();
  int blocks = 0;
  for (std::size_t at = md.find("```rules"); at != std::string::npos; at = md.find("```rules", at + 1)) {
    std::size_t begin = md.find('\n', at) + 1;
    std::size_t end = md.find("```", begin);
    std::string example = md.substr(begin, end - begin);
    auto doc = rulec::load_text(example, "GRAMMAR.md example");
    INFO(example);
    INFO(rulec::diag::render(doc->diagnostics.all(), doc->sources, rulec::diag::Format::Text));
    CHECK(doc->read);
    CHECK_FALSE(doc->diagnostics.has_errors());
    ++blocks;
  }
  CHECK(blocks >= 8);
}
