// rulec trace: which rule decides a packet, and why the others did not.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/evaluator.hpp"
#include "command.hpp"

namespace rulec::cli {
namespace {

struct TraceArgs {
  std::string file;
  std::vector<std::string> packets;
  std::string format = "text";
};

std::string rule_text(const Document& doc, const diag::Location& loc) {
  const auto& f = doc.sources.file(loc.file);
  std::string t(f.text().substr(loc.begin, std::min<std::uint32_t>(loc.end - loc.begin, 120)));
  for (char& c : t)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return t;
}

int run_trace(const TraceArgs& a) {
  auto doc = load_file(a.file);
  if (!doc->ok()) {
    print_diagnostics(doc->diagnostics.all(), doc->sources, diag::Format::Text);
    return kBadInput;
  }
  analysis::StateTable state;
  nlohmann::json results = nlohmann::json::array();
  std::string text;
  bool all_passed = true;
  for (const std::string& spec : a.packets) {
    std::string error;
    auto packet = analysis::parse_packet(spec, error);
    if (!packet) {
      std::cerr << "rulec: error: packet '" << spec << "': " << error << "\n";
      return kBadInput;
    }
    analysis::Verdict v = analysis::evaluate(doc->ir, *packet, &state);
    all_passed &= v.passed();
    std::vector<std::uint32_t> matched = analysis::matching_rules(doc->ir, *packet);
    nlohmann::json j{{"packet", analysis::format_packet(*packet)}, {"verdict", ir::to_string(v.action)}};
    text += fmt::format("packet:  {}\nverdict: {}\n", analysis::format_packet(*packet), ir::to_string(v.action));
    const ir::Default& def = doc->ir.default_for(packet->direction);
    switch (v.by) {
      case analysis::Verdict::By::State:
        text += "decided by: the state of an earlier packet of this connection (no rule is consulted)\n";
        j["decided_by"] = {{"kind", "state"}};
        break;
      case analysis::Verdict::By::Default:
        text += fmt::format("decided by: {}: {} (no rule matches)\n", doc->sources.describe(def.origin),
                            rule_text(*doc, def.origin));
        j["decided_by"] = {{"kind", "default"}, {"location", doc->sources.describe(def.origin)}};
        break;
      case analysis::Verdict::By::NoDefault:
        text += fmt::format("decided by: no rule matches and there is no default for {} packets, so it passes\n",
                            packet->direction == ir::Direction::In ? "inbound" : "outbound");
        j["decided_by"] = {{"kind", "no-default"}};
        break;
      case analysis::Verdict::By::Rule: {
        const ir::Rule& r = doc->ir.rules[static_cast<std::size_t>(v.rule)];
        text += fmt::format("decided by: {}: {}{}\n", doc->sources.describe(r.origin), rule_text(*doc, r.origin),
                            r.done ? "  (done: later rules are not consulted)" : "  (the last rule that matches)");
        j["decided_by"] = {{"kind", "rule"}, {"location", doc->sources.describe(r.origin)}, {"done", r.done}};
        break;
      }
    }
    if (v.created_state) text += "state:   created; replies and later packets of this connection pass\n";
    j["created_state"] = v.created_state;
    j["matching_rules"] = nlohmann::json::array();
    if (v.by != analysis::Verdict::By::State && !matched.empty()) {
      text += "rules that match this packet:\n";
      std::uint32_t last_source = UINT32_MAX;
      for (std::uint32_t i : matched) {
        const ir::Rule& r = doc->ir.rules[i];
        if (r.source_rule == last_source) continue;
        last_source = r.source_rule;
        std::string role;
        if (static_cast<std::int64_t>(i) == v.rule) role = "decides";
        else if (static_cast<std::int64_t>(i) < v.rule) role = "overridden by the deciding rule, which comes later";
        else role = "not consulted: an earlier rule with 'done' decided";
        text += fmt::format("  {}: {}  [{}]\n", doc->sources.describe(r.origin), rule_text(*doc, r.origin), role);
        j["matching_rules"].push_back({{"location", doc->sources.describe(r.origin)}, {"role", role}});
      }
    }
    text += "\n";
    results.push_back(j);
  }
  if (a.format == "json") {
    write_stdout(nlohmann::json{{"results", results}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                 "\n");
  } else {
    if (!text.empty()) text.pop_back();
    write_stdout(text);
  }
  return all_passed ? kClean : kFindings;
}

Registrar trace("trace", "show which rule decides a packet: rulec trace FILE 'out on wan tcp A:P -> B:P'",
                [](CLI::App& sub) {
                  auto a = std::make_shared<TraceArgs>();
                  sub.add_option("file", a->file, "policy file")->required();
                  sub.add_option("packets", a->packets,
                                 "packets, judged in order with shared state: "
                                 "'DIR [on IFACE] PROTO SRC[:PORT] -> DST[:PORT] [type T]'")
                      ->required();
                  sub.add_option("--format", a->format, "text (default) or json")
                      ->check(CLI::IsMember({"text", "json"}));
                  sub.footer("Exit status: 0 every packet passes, 1 one is blocked or rejected, 2 bad input.");
                  return [a] { return run_trace(*a); };
                });

}  // namespace
}  // namespace rulec::cli
