// Benchmark: full lint (every RC3xx pass) of generated policies.
//
// Two kinds of policy per size: bench/policy_gen.hpp's (`stage=lint`), where
// port-only and service rules without addresses make every web or SSH rule
// share packets with a fixed fraction of all rules, and a sparse one
// (`stage=lint-sparse`): the same mix of protocols, ports, ranges, lists,
// families, directions, interfaces and options, but each rule touching only
// a few others, as in a policy of per-host allowances. Each measurement runs
// in its own process (the benchmark re-executes itself), so each peak-memory
// figure belongs to it alone. Sizes: 1k, 10k and 100k rules, or
// RULEC_BENCH_SIZES.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/lint.hpp"
#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"

namespace {

/// A policy whose rules each share packets with only a few others.
std::string sparse_policy(std::size_t rules) {
  rulec::bench::Rng r{7};
  std::string out = "default block in\ndefault pass out\nhosts = { 10.9.0.1, 10.9.0.2, 10.9.0.3 }\n";
  static const char* actions[] = {"pass", "pass", "block", "reject"};
  static const char* dirs[] = {"", " in", " out"};
  static const char* ifaces[] = {"", " on lan", " on wan", " on dmz"};
  for (std::size_t i = 0; i < rules; ++i) {
    std::size_t host = i / 4;  // four rules per host: some overlap, most do not
    std::string a = std::to_string(10 + host / 65536 % 200) + "." + std::to_string(host / 256 % 256) + "." +
                    std::to_string(host % 256);
    out += actions[r.below(4)];
    out += dirs[r.below(3)];
    out += ifaces[r.below(4)];
    switch (r.below(6)) {
      case 0: out += " protocol tcp, to " + a + ".0/24 port " + std::to_string(1000 + r.below(50)) + "-2000"; break;
      case 1: out += " protocol udp, from " + a + ".7, to any port { 53, 123, " + std::to_string(5000 + r.below(99)) + " }"; break;
      case 2: out += " protocol icmp, icmp-type echo-request, to " + a + ".9"; break;
      case 3: out += " protocol gre, to " + a + ".1"; break;
      case 4: {
        char net[32];
        std::snprintf(net, sizeof net, "2001:db8:%zx::/64", host % 65536);
        out += std::string(" from ") + net + ", to port https";
        break;
      }
      default: out += " protocol tcp, from $hosts, to " + a + ".2 port ssh"; break;
    }
    unsigned opts = r.below(4);
    if (opts == 1) out += " >> state";
    if (opts == 2) out += " >> state, done";
    if (opts == 3) out += " >> done, log";
    out += '\n';
  }
  return out;
}

using rulec::bench::peak_rss_kb;

int run_one(std::size_t rules, bool sparse) {
  auto doc = rulec::load_text(sparse ? sparse_policy(rules) : rulec::bench::generate_policy(rules), "generated.rules");
  if (!doc->ok()) {
    std::fprintf(stderr, "generated policy has errors\n");
    return 1;
  }
  rulec::diag::Sink sink;
  auto t0 = std::chrono::steady_clock::now();
  rulec::analysis::lint(doc->ir, doc->ast, doc->sources, sink);
  auto t1 = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(t1 - t0).count();
  long peak = peak_rss_kb();
  std::map<std::string, std::size_t> by_code;
  for (const auto& d : sink.all()) ++by_code[d.code];
  std::string counts;
  for (const auto& [code, n] : by_code) counts += (counts.empty() ? "" : ",") + code + ":" + std::to_string(n);
  const char* stage = sparse ? "lint-sparse" : "lint";
  std::printf("%-11s %7zu rules (%zu IR rules)  %8.3f s  %9.0f rules/s  peak %7.1f MB  findings %s\n", stage, rules,
              doc->ir.rules.size(), s, rules / s, peak / 1024.0, counts.c_str());
  std::printf("BENCH stage=%s rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f ir_rules=%zu findings=%zu\n",
              stage, rules, s, rules / s, peak / 1024.0, doc->ir.rules.size(), sink.all().size());
  return 0;
}

std::vector<std::string> sizes() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("RULEC_BENCH_SIZES")) {
    std::istringstream in(env);
    for (std::string n; in >> n;) out.push_back(n);
  }
  if (out.empty()) out = {"1000", "10000", "100000"};
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--one")
    return run_one(std::strtoull(argv[2], nullptr, 10), std::string(argv[3]) == "sparse");
  for (const char* kind : {"sparse", "generated"})
    for (const std::string& n : sizes()) {
      std::fflush(stdout);
      pid_t pid = fork();
      if (pid == 0) {
        execl("/proc/self/exe", argv[0], "--one", n.c_str(), kind, static_cast<char*>(nullptr));
        _exit(127);
      }
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    }
  return 0;
}
