// rulec targets: the compilation targets and what each supports.
#include <fmt/format.h>

#include "backends/backend.hpp"
#include "command.hpp"

namespace rulec::cli {
namespace {

int run_targets() {
  std::string out;
  for (const auto& e : backends::registry()) {
    auto caps = e.make()->capabilities();
    std::string missing;
    auto note = [&](bool has, const char* what) {
      if (!has) missing += (missing.empty() ? "" : ", ") + std::string(what);
    };
    note(caps.reject, "reject");
    note(caps.log, "log");
    note(caps.label, "label");
    note(caps.interfaces, "on IFACE");
    note(caps.ipv6, "IPv6");
    note(caps.icmp_types, "icmp-type");
    note(caps.stateless, "stateless pass");
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
