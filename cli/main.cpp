// rulec's command line: a thin layer over the library.
//
// `rulec --target T [FILE|-] [-o OUT]` compiles; subcommands (lint, fmt,
// trace, check, targets) register themselves from their own files.
#include <algorithm>
#include <csignal>
#include <iostream>

#include "backends/backend.hpp"
#include "backends/nft_prune.hpp"
#include "command.hpp"
#include "version.hpp"

namespace rulec::cli {
namespace {

int compile_main(const std::string& target, const std::string& file, const std::string& output, bool strict,
                 bool prune, diag::Format fmt) {
  const backends::BackendEntry* entry = backends::find(target);
  if (!entry) {
    std::vector<std::string> names;
    for (const auto& e : backends::registry()) names.emplace_back(e.name);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::string hint;
    for (const auto& n : names)
      if (n.rfind(target.substr(0, 2), 0) == 0 && !target.empty()) hint = n;
    std::cerr << "rulec: error: unknown target '" << target << "'";
    if (!hint.empty()) std::cerr << "; did you mean '" << hint << "'?";
    std::cerr << " (targets: " << (list.empty() ? "none" : list) << ")\n";
    return kBadInput;
  }
  auto doc = load_file(file);
  if (!doc->read) {
    print_diagnostics(doc->diagnostics.all(), doc->sources, fmt);
    return kBadInput;
  }
  backends::Output out;  // written out in its parts, never joined
  diag::Sink sink;
  bool ok = doc->ok();
  if (ok) {
    backends::EmitOptions opts;
    opts.strict = strict;
    opts.sources = &doc->sources;
    if (prune) {  // lint's RC300/RC302 rules never decide a packet (backends/nft_prune.hpp)
      auto dead = backends::dead_source_rules(doc->ir, doc->ast, doc->sources);
      ir::Policy kept = backends::without_source_rules(doc->ir, dead);
      ok = backends::compile(*entry, kept, opts, out, sink);
    } else {
      ok = backends::compile(*entry, doc->ir, opts, out, sink);
    }
  }
  std::vector<diag::Diagnostic> all = doc->diagnostics.all();
  for (auto& d : sink.all()) all.push_back(d);
  // Compiling is quiet about warnings that `rulec lint` reports; errors always show.
  std::vector<diag::Diagnostic> shown;
  for (auto& d : all)
    if (d.severity == diag::Severity::Error || d.code.rfind("RC5", 0) == 0) shown.push_back(d);
  print_diagnostics(shown, doc->sources, fmt);
  if (!ok) return kFindings;
  if (output.empty() || output == "-") {
    if (!write_stdout(out.parts())) {
      std::cerr << "rulec: error: cannot write the output to standard output\n";
      return kBadInput;
    }
    return kClean;
  }
  std::string error;
  if (!write_atomically(output, out.parts(), error)) {
    std::cerr << "rulec: error: " << error << "\n";
    return kBadInput;
  }
  return kClean;
}

}  // namespace
}  // namespace rulec::cli

int main(int argc, char** argv) {
  using namespace rulec::cli;
  // Past a file-size limit (ulimit -f) a write must fail with EFBIG, so the
  // atomic writer removes its temporary file and reports it; the default
  // SIGXFSZ would kill rulec and leave the half-written temporary behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"rulec " RULEC_VERSION
               ": a firewall rule-language compiler and linter.\n"
               "One policy, checked like a compiler checks code, compiled to nftables, iptables, pf or\n"
               "Windows Firewall."};
  app.footer(
      "Examples:\n"
      "  rulec lint office.rules                 check a policy, gcc-style diagnostics\n"
      "  rulec --target nft office.rules -o office.nft\n"
      "  rulec --target pf < office.rules        stdin to stdout\n"
      "  rulec check --vpn pptp --via lan:wan office.rules\n"
      "  rulec trace office.rules 'out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723'\n"
      "  rulec fmt --check office.rules\n"
      "Exit status: 0 clean, 1 findings (errors, or warnings with --werror), 2 usage or input errors.");
  app.set_version_flag("--version", "rulec " RULEC_VERSION);
  app.require_subcommand(0, 1);

  std::string target, output, file = "-", format = "text";
  bool strict = false, prune = false;
  app.add_option("--target,-t", target, "compile for this target (see 'rulec targets')");
  app.add_option("-o,--output", output, "write the output to this file, atomically (default: stdout)");
  app.add_flag("--strict", strict, "refuse where the target can only approximate the policy");
  app.add_flag("--prune", prune,
               "leave out the rules 'rulec lint' proves never decide a packet (RC300, RC302): the same "
               "verdicts, a smaller and faster-loading output; costs a lint run (100k rules: ~5 s)");
  app.add_option("--format", format, "diagnostics format")->check(CLI::IsMember({"text", "json", "sarif"}));
  app.add_option("file", file, "policy file, or - for standard input (default)");

  auto& specs = commands();
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, Run>> subs;
  for (auto& spec : specs) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.summary);
    subs.emplace_back(sub, spec.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kBadInput;
  }
  try {
    for (auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    if (target.empty()) {
      std::cerr << "rulec: error: nothing to do: give --target T to compile, or a subcommand (rulec --help)\n";
      return kBadInput;
    }
    return compile_main(target, file, output, strict, prune, parse_format(format));
  } catch (const std::exception& e) {
    std::cerr << "rulec: internal error: " << e.what() << "\n";
    return 3;
  }
}
