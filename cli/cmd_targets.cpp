// rulec targets: the compilation targets and what each supports.
#include <fmt/format.h>

#include "backends/backend.hpp"
#include "command.hpp"

namespace rulec::cli {
namespace {

int run_targets() {
  std::string out;
  for (const auto& e : backends::registry()) {
    std::string missing;
    for (const std::string& m : backends::missing_features(e.make()->capabilities()))
      missing += (missing.empty() ? "" : ", ") + m;
    out += fmt::format("{:<16} {}{}\n", e.name, e.summary, missing.empty() ? "" : " (cannot express: " + missing + ")");
  }
  if (out.empty()) out = "no targets are built into this rulec\n";
  write_stdout(out);
  return kClean;
}

Registrar targets("targets", "list the compilation targets and what each supports",
                  [](CLI::App&) { return Run(run_targets); });

}  // namespace
}  // namespace rulec::cli
