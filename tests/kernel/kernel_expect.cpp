// What the reference evaluator says about the kernel suite's probes.
//
// Usage: rulec_kernel_expect POLICY < exchanges
// Each input line is one exchange of a probe, tab-separated:
//   PROBE-ID  EXCHANGE  REQUEST-PACKETS  REPLY-PACKETS
// where the packet lists are the judgements a packet meets on its way, in
// packet syntax, separated by ';' ("in on lan tcp 192.0.2.5:40001 -> 198.51.100.2:80;
// out on wan tcp 192.0.2.5:40001 -> 198.51.100.2:80"); "-" for none. The
// exchanges of one probe share one state table, as the kernel's connection
// tracking shares a connection's state; each probe starts with an empty table.
// Each output line: PROBE-ID EXCHANGE request=pass|block|reject reply=pass|block|reject|none
// and, after a tab, how each judgement was decided (for failure messages).
#include <fmt/format.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/evaluator.hpp"
#include "frontend.hpp"

namespace {

using namespace rulec;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}


/// Runs a packet through its judgements; returns the first non-pass action (or pass).
bool judge(const Document& doc, const std::string& list, analysis::StateTable& state, std::string& action,
           std::string& detail) {
  action = "none";
  if (list == "-") return true;
  action = "pass";
  for (const std::string& spec : split(list, ';')) {
    std::string error;
    auto p = analysis::parse_packet(spec, error);
    if (!p) {
      std::cerr << "rulec_kernel_expect: bad packet '" << spec << "': " << error << "\n";
      return false;
    }
    analysis::Verdict v = analysis::evaluate(doc.ir, *p, &state);
    std::string where = v.by == analysis::Verdict::By::Rule
                            ? doc.sources.describe(doc.ir.rules[static_cast<std::size_t>(v.rule)].origin)
                            : analysis::to_string(v.by);
    detail += fmt::format("[{} => {} by {}] ", spec, ir::to_string(v.action), where);
    if (!v.passed()) {
      action = ir::to_string(v.action);
      break;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: rulec_kernel_expect POLICY < exchanges\n";
    return 2;
  }
  auto doc = load_file(argv[1]);
  if (!doc->ok()) {
    std::cerr << diag::render(doc->diagnostics.all(), doc->sources, diag::Format::Text);
    return 2;
  }
  analysis::StateTable state;
  std::string line, current;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    auto f = split(line, '\t');
    if (f.size() != 4) {
      std::cerr << "rulec_kernel_expect: expected 4 tab-separated fields: " << line << "\n";
      return 2;
    }
    if (f[0] != current) state.clear();
    current = f[0];
    std::string request, reply = "none", detail;
    if (!judge(*doc, f[2], state, request, detail)) return 2;
    if (request == "pass" && !judge(*doc, f[3], state, reply, detail)) return 2;
    std::cout << f[0] << ' ' << f[1] << " request=" << request << " reply=" << reply << '\t' << detail << '\n';
  }
  return 0;
}
