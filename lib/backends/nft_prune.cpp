#include "backends/nft_prune.hpp"

#include <algorithm>
#include <unordered_map>

#include "analysis/lint.hpp"

namespace rulec::backends {

std::vector<std::uint32_t> dead_source_rules(const ir::Policy& policy, const ast::Policy& ast,
                                             const diag::SourceMap& sources) {
  diag::Sink sink;
  analysis::lint(policy, ast, sources, sink);
  // A finding is placed at its rule's origin, which every IR rule of that
  // source rule carries.
  auto key = [](const diag::Location& l) { return static_cast<std::uint64_t>(l.file) << 32 | l.begin; };
  std::unordered_map<std::uint64_t, std::uint32_t> by_origin;
  by_origin.reserve(policy.rules.size());
  for (const ir::Rule& r : policy.rules) by_origin.emplace(key(r.origin), r.source_rule);
  std::vector<std::uint32_t> dead;
  for (const diag::Diagnostic& d : sink.all()) {
    if (d.code != "RC300" && d.code != "RC302") continue;
    if (auto it = by_origin.find(key(d.loc)); it != by_origin.end()) dead.push_back(it->second);
  }
  std::sort(dead.begin(), dead.end());
  dead.erase(std::unique(dead.begin(), dead.end()), dead.end());
  return dead;
}

ir::Policy without_source_rules(const ir::Policy& policy, const std::vector<std::uint32_t>& sorted) {
  ir::Policy out;
  out.defaults = policy.defaults;
  out.interfaces = policy.interfaces;
  out.requirements = policy.requirements;
  out.vpns = policy.vpns;
  out.source_rules = policy.source_rules;
  out.empty_source_rules = policy.empty_source_rules;
  out.labels = policy.labels;  // the rules keep their label numbers
  out.rules.reserve(policy.rules.size());
  for (const ir::Rule& r : policy.rules)
    if (!std::binary_search(sorted.begin(), sorted.end(), r.source_rule)) out.rules.push_back(r);
  return out;
}

}  // namespace rulec::backends
