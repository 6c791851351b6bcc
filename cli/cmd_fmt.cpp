// rulec fmt: canonical formatting.
#include <iostream>

#include "command.hpp"
#include "syntax/format.hpp"

namespace rulec::cli {
namespace {

struct FmtArgs {
  std::vector<std::string> files;
  bool check = false;
  bool write = false;
};

int run_fmt(const FmtArgs& a) {
  int status = kClean;
  for (const std::string& f : a.files) {
    syntax::Input in;
    in.name = f;
    ast::Policy policy;
    diag::SourceMap sources;
    diag::Sink sink;
    // Parse this file only: fmt formats what is written, not what is included.
    if (syntax::names_stdin(f)) {
      if (!syntax::load_policy(in, policy, sources, sink)) {
        print_diagnostics(sink.all(), sources, diag::Format::Text);
        return kBadInput;
      }
    } else {
      std::string text, error;
      if (!syntax::read_regular_file(f, text, error)) {
        std::cerr << "rulec: error: cannot read '" << f << "': " << error << " [RC001]\n";
        status = kBadInput;
        continue;
      }
      std::uint32_t id = sources.add(f, std::move(text));
      syntax::parse_text(policy, sources, id, sink);
    }
    if (sink.has_errors()) {
      sink.sort();
      print_diagnostics(sink.all(), sources, diag::Format::Text);
      status = std::max(status, static_cast<int>(kFindings));
      continue;
    }
    std::string formatted = syntax::format_file(policy, sources, 0);
    const std::string& original = sources.file(0).text();
    if (a.check) {
      if (formatted != original) {
        std::cerr << f << ": not formatted (run 'rulec fmt -w " << f << "')\n";
        status = std::max(status, static_cast<int>(kFindings));
      }
    } else if (a.write && !syntax::names_stdin(f)) {
      std::string error;
      if (formatted != original && !write_atomically(f, formatted, error)) {
        std::cerr << "rulec: error: " << error << "\n";
        status = kBadInput;
      }
    } else if (!write_stdout(formatted)) {
      return kBadInput;
    }
  }
  return status;
}

Registrar fmt_cmd("fmt", "print policies in canonical form (--check: exit 1 when not formatted)", [](CLI::App& sub) {
  auto a = std::make_shared<FmtArgs>();
  sub.add_option("files", a->files, "policy files (- for standard input)")->required();
  sub.add_flag("--check", a->check, "print nothing; exit 1 when a file is not in canonical form");
  sub.add_flag("-w,--write", a->write, "rewrite the files in place (atomically)");
  return [a] { return run_fmt(*a); };
});

}  // namespace
}  // namespace rulec::cli
