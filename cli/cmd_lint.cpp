// rulec lint: every finding of every stage, as text, JSON or SARIF.
#include <algorithm>

#include "command.hpp"
#include "analysis/lint.hpp"

namespace rulec::cli {
namespace {

struct LintArgs {
  std::vector<std::string> files;
  std::string format = "text";
  bool werror = false;
  std::vector<std::string> disabled;
};

int run_lint(const LintArgs& a) {
  bool unreadable = false, errors = false, warnings = false;
  diag::Format fmt = parse_format(a.format);
  // One document per file; JSON and SARIF want one document for the whole run.
  std::vector<std::unique_ptr<Document>> docs;
  for (const std::string& f : a.files) {
    auto doc = load_file(f);
    if (doc->ok()) analysis::lint(doc->ir, doc->ast, doc->sources, doc->diagnostics);
    auto& all = doc->diagnostics.all();
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const diag::Diagnostic& d) {
                               return std::find(a.disabled.begin(), a.disabled.end(), d.code) != a.disabled.end();
                             }),
              all.end());
    doc->diagnostics.sort();
    unreadable |= !doc->read;
    errors |= doc->diagnostics.has_errors();
    warnings |= doc->diagnostics.count(diag::Severity::Warning) > 0;
    docs.push_back(std::move(doc));
  }
  if (fmt == diag::Format::Text || docs.size() == 1) {
    for (auto& d : docs) print_diagnostics(d->diagnostics.all(), d->sources, fmt);
  } else {
    // Several files in JSON/SARIF: merge into one source map so one document describes them all.
    diag::SourceMap merged;
    std::vector<diag::Diagnostic> all;
    for (auto& d : docs) {
      auto offset = static_cast<std::uint32_t>(merged.size());
      for (std::uint32_t i = 0; i < d->sources.size(); ++i)
        merged.add(d->sources.file(i).name(), d->sources.file(i).text());
      for (auto diag : d->diagnostics.all()) {
        diag.loc.file += offset;
        for (auto& n : diag.notes) n.loc.file += offset;
        all.push_back(std::move(diag));
      }
    }
    print_diagnostics(all, merged, fmt);
  }
  if (unreadable) return kBadInput;
  if (errors || (a.werror && warnings)) return kFindings;
  return kClean;
}

Registrar lint("lint", "check policies and report findings (file:line:col, code, fix hint)", [](CLI::App& sub) {
  auto a = std::make_shared<LintArgs>();
  sub.add_option("files", a->files, "policy files (- for standard input)")->required();
  sub.add_option("--format", a->format, "text (default), json or sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  sub.add_flag("--werror", a->werror, "exit 1 on warnings too");
  sub.add_option("--disable", a->disabled, "do not report this code (repeatable): --disable RC202");
  return [a] { return run_lint(*a); };
});

}  // namespace
}  // namespace rulec::cli
