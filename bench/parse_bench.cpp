// Benchmark: parse + checks (syntax, names, values) of generated policies.
//
// For each size the benchmark re-runs itself in a child process, so each
// peak-memory figure belongs to one size alone. It prints a human table and
// one `BENCH` line per size (bench/README.md).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"

namespace {

using rulec::bench::peak_rss_kb;

int run_one(std::size_t rules) {
  std::string text = rulec::bench::generate_policy(rules);
  std::size_t bytes = text.size();
  long before = peak_rss_kb();
  auto t0 = std::chrono::steady_clock::now();
  rulec::semantics::LowerOptions opts;
  opts.keep_rules = false;  // parse + every check; the IR is built by the stages that need it
  auto doc = rulec::load_text(std::move(text), "generated.rules", "", opts);
  auto t1 = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(t1 - t0).count();
  long peak = peak_rss_kb();
  if (doc->diagnostics.has_errors()) {
    std::fprintf(stderr, "generated policy has errors\n");
    return 1;
  }
  double per_rule = (peak - before) * 1024.0 / static_cast<double>(rules);
  std::printf("parse+check %8zu rules  %7.1f MB  %8.3f s  %10.0f rules/s  peak %7.1f MB  (%5.0f bytes/rule above the input's %zu bytes)\n",
              rules, bytes / 1e6, s, rules / s, peak / 1024.0, per_rule, bytes);
  std::printf("BENCH stage=parse rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f bytes_per_rule=%.0f\n", rules,
              s, rules / s, peak / 1024.0, per_rule);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--one") return run_one(std::strtoull(argv[2], nullptr, 10));
  const char* sizes[] = {"1000", "100000", "1000000"};
  for (const char* n : sizes) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "--one", n, static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
  return 0;
}
