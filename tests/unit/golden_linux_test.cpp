// Golden files for the Linux targets: every tests/golden/<case>.rules and
// examples/<name>.rules compiled for nft, iptables and ip6tables and compared
// with <case>.nft, <case>.ipt and <case>.ip6t (example-<name>.* for the
// examples). A policy the target refuses is compared as its rendered
// diagnostics (<case>.nft.diag, ...). A mismatch writes <file>.got next to the
// golden file; accept every .got with
//   RULEC_ACCEPT=1 build/rulec_tests -tc='golden linux*'
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/backend.hpp"
#include "frontend.hpp"

namespace {

namespace fs = std::filesystem;
using namespace rulec;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// Compiles `source` for `target`: the configuration, or the rendered errors.
std::string compile_or_diagnose(const fs::path& source, const char* target) {
  auto doc = load_text(read(source), source.filename().string(), source.parent_path().string());
  std::string out;
  diag::Sink sink;
  if (doc->ok()) {
    backends::EmitOptions options;
    options.sources = &doc->sources;
    if (backends::compile(*backends::find(target), doc->ir, options, out, sink)) return out;
  }
  std::vector<diag::Diagnostic> errors;
  for (const auto* all : {&doc->diagnostics.all(), &sink.all()})
    for (const auto& d : *all)
      if (d.severity == diag::Severity::Error) errors.push_back(d);
  return diag::render(errors, doc->sources, diag::Format::Text);
}

void check_golden(const fs::path& source, const fs::path& golden_base) {
  static const char* const kTargets[][2] = {{"nft", ".nft"}, {"iptables", ".ipt"}, {"ip6tables", ".ip6t"}};
  const bool accept = std::getenv("RULEC_ACCEPT") != nullptr;
  for (const auto& [target, ext] : kTargets) {
    std::string got = compile_or_diagnose(source, target);
    bool refused = got.rfind("#", 0) != 0;  // every configuration opens with a comment
    fs::path golden = golden_base.string() + ext + (refused ? ".diag" : "");
    fs::path got_path = golden.string() + ".got";
    if (accept) {
      write(golden, got);
      fs::remove(got_path);
      continue;
    }
    bool same = fs::exists(golden) && read(golden) == got;
    if (same) {
      fs::remove(got_path);
    } else {
      write(got_path, got);
    }
    INFO("golden ", golden.string(), " differs; see ", got_path.string(),
         " (accept: RULEC_ACCEPT=1 build/rulec_tests -tc='golden linux*')");
    CHECK(same);
  }
}

}  // namespace

TEST_CASE("golden linux: tests/golden cases for nft, iptables, ip6tables") {
  fs::path dir = fs::path(RULEC_SOURCE_DIR) / "tests" / "golden";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".rules") continue;
    ++cases;
    check_golden(entry.path(), dir / entry.path().stem());
  }
  CHECK(cases >= 3);
}

TEST_CASE("golden linux: examples for nft, iptables, ip6tables") {
  fs::path golden = fs::path(RULEC_SOURCE_DIR) / "tests" / "golden";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(RULEC_SOURCE_DIR) / "examples")) {
    if (entry.path().extension() != ".rules") continue;
    ++cases;
    check_golden(entry.path(), golden / ("example-" + entry.path().stem().string()));
  }
  CHECK(cases >= 2);
}
