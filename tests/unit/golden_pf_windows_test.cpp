// Golden files for the pf and Windows backends.
//
// Every tests/golden/<case>.rules and examples/<name>.rules is compiled for
// pf, windows and windows-netsh and compared with <case>.pf, <case>.ps1 and
// <case>.netsh (example-<name>.* for the examples); a policy the target
// refuses is compared as its rendered diagnostics (<case>.pf.diag, ...), as
// the Linux runner does. A mismatch writes <file>.got beside the golden
// file; to accept every current output:
//   RULEC_ACCEPT=1 build/rulec_tests -tc='golden: pf*'
// Cases of other backends' runners without pf/Windows goldens are skipped,
// except the ones listed in kRequired, which must have all three.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/backend.hpp"
#include "frontend.hpp"

using namespace rulec;
namespace fs = std::filesystem;

namespace {

const char* kRequired[] = {"office", "pptp", "pptp-windows", "pf-features", "escape-labels", "windows-interfaces"};

struct Target {
  const char* name;
  const char* ext;
};
constexpr Target kTargets[] = {{"pf", ".pf"}, {"windows", ".ps1"}, {"windows-netsh", ".netsh"}};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// What the target makes of the case: the output, or (false) the rendered refusal.
std::pair<bool, std::string> output_for(const fs::path& rules, const Target& target) {
  auto doc = load_text(read(rules), rules.filename().string(), rules.parent_path().string());
  if (!doc->ok()) return {false, diag::render(doc->diagnostics.all(), doc->sources, diag::Format::Text)};
  backends::EmitOptions options;
  options.sources = &doc->sources;
  diag::Sink sink;
  std::string out;
  if (backends::compile(*backends::find(target.name), doc->ir, options, out, sink)) return {true, out};
  return {false, diag::render(sink.all(), doc->sources, diag::Format::Text)};
}

}  // namespace

TEST_CASE("golden: pf, windows and windows-netsh outputs of tests/golden/*.rules") {
  const fs::path dir = fs::path(RULEC_SOURCE_DIR) / "tests" / "golden";
  const bool accept = std::getenv("RULEC_ACCEPT") && std::string(std::getenv("RULEC_ACCEPT")) == "1";
  for (const char* name : kRequired) CHECK_MESSAGE(fs::exists(dir / (std::string(name) + ".rules")), name);
  std::vector<std::pair<fs::path, std::string>> cases;  // source, golden stem
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".rules") cases.push_back({e.path(), e.path().stem().string()});
  for (const auto& e : fs::directory_iterator(fs::path(RULEC_SOURCE_DIR) / "examples"))
    if (e.path().extension() == ".rules") cases.push_back({e.path(), "example-" + e.path().stem().string()});
  std::sort(cases.begin(), cases.end());
  int compared = 0;
  for (const auto& [rules, stem] : cases) {
    bool required = std::find_if(std::begin(kRequired), std::end(kRequired),
                                 [&](const char* n) { return stem == n; }) != std::end(kRequired);
    for (const Target& t : kTargets) {
      fs::path base = dir / (stem + t.ext), refused = dir / (stem + t.ext + ".diag");
      if (!fs::exists(base) && !fs::exists(refused) && !required && !accept) continue;
      auto [ok, out] = output_for(rules, t);
      fs::path golden = ok ? base : refused, stale = ok ? refused : base;
      fs::path got = fs::path(golden.string() + ".got");
      if (accept) {
        write(golden, out);
        fs::remove(stale);
        fs::remove(got);
        continue;
      }
      ++compared;
      std::string want = fs::exists(golden) ? read(golden) : std::string();
      if (out == want && !fs::exists(stale)) {
        fs::remove(got);
        continue;
      }
      write(got, out);
      std::string what = golden.string() + (fs::exists(golden) ? " differs" : " is missing") + ": see " +
                         got.string() + "; accept with RULEC_ACCEPT=1";
      FAIL_CHECK(what);
    }
  }
  MESSAGE(compared, " golden files compared");
}
