// Benchmark: full lint (every RC3xx pass) of generated policies.
//
// Each size runs in its own process (the benchmark re-executes itself), so
// each peak-memory figure belongs to one size alone. It prints a human line
// and one `BENCH stage=lint` line per size (bench/README.md). Sizes: 1k, 10k
// and 100k rules, or RULEC_BENCH_SIZES.
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
#include "policy_gen.hpp"

namespace {

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int run_one(std::size_t rules) {
  auto doc = rulec::load_text(rulec::bench::generate_policy(rules), "generated.rules");
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
  std::printf("lint %8zu rules (%zu IR rules)  %8.3f s  %10.0f rules/s  peak %7.1f MB  findings %s\n", rules,
              doc->ir.rules.size(), s, rules / s, peak / 1024.0, counts.c_str());
  std::printf("BENCH stage=lint rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f ir_rules=%zu findings=%zu\n",
              rules, s, rules / s, peak / 1024.0, doc->ir.rules.size(), sink.all().size());
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
  if (argc == 3 && std::string(argv[1]) == "--one") return run_one(std::strtoull(argv[2], nullptr, 10));
  for (const std::string& n : sizes()) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "--one", n.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
  return 0;
}
