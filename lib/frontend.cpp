// The front door: syntax, then semantics.
#include "frontend.hpp"

namespace rulec {

std::unique_ptr<Document> load(syntax::Input input, const semantics::LowerOptions& options) {
  auto doc = std::make_unique<Document>();
  doc->read = syntax::load_policy(std::move(input), doc->ast, doc->sources, doc->diagnostics);
  // Names and values are checked only in a policy that parsed: a broken
  // definition line would otherwise make every use of it an error too.
  if (doc->read && !doc->diagnostics.has_errors()) {
    semantics::LowerOptions with_text = options;
    with_text.sources = &doc->sources;
    doc->ir = semantics::lower(doc->ast, doc->diagnostics, with_text);
  }
  doc->diagnostics.sort();
  return doc;
}

std::unique_ptr<Document> load_file(const std::string& path, const semantics::LowerOptions& options) {
  syntax::Input in;
  in.name = path;
  in.from_file = true;
  return load(in, options);
}

std::unique_ptr<Document> load_text(std::string text, std::string name, std::string base_dir,
                                    const semantics::LowerOptions& options) {
  syntax::Input in;
  in.name = std::move(name);
  in.text = std::move(text);
  in.from_file = false;
  in.base_dir = std::move(base_dir);
  return load(std::move(in), options);
}

}  // namespace rulec
