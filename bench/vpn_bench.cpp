// Benchmark: the VPN check (every built-in profile, on the host and through
// a router lan:wan) on generated policies.
//
// The measured stage is the check alone: the policy is generated and loaded
// first. Each size runs in its own process, so each peak-memory figure
// belongs to one size. Prints a human line and one `BENCH stage=check` line
// per size (bench/README.md); sizes from RULEC_BENCH_SIZES if set.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"
#include "vpn/check.hpp"

namespace {

using rulec::bench::peak_rss_mb;

int run_one(std::size_t rules) {
  auto doc = rulec::load_text(rulec::bench::generate_policy(rules), "generated.rules");
  if (!doc->ok()) {
    std::fprintf(stderr, "generated policy has errors\n");
    return 1;
  }
  std::size_t checks = 0, judgements = 0, working = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const rulec::vpn::Profile& p : rulec::vpn::builtin_profiles()) {
    for (bool through_router : {false, true}) {
      rulec::vpn::Request r;
      r.profile = p.name;
      if (through_router) {
        r.via_in = "lan";
        r.via_out = "wan";
      }
      rulec::vpn::CheckError error;
      auto c = rulec::vpn::check_vpn(doc->ir, r, error);
      if (!c) {
        std::fprintf(stderr, "check %s failed: %s\n", p.name.c_str(), error.message.c_str());
        return 1;
      }
      ++checks;
      working += c->works();
      for (const auto& row : c->rows) judgements += row.hops.size();
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("check %8zu rules  %2zu checks (%zu work)  %3zu judgements  %8.4f s  %12.0f rules/s  peak %7.1f MB\n",
              rules, checks, working, judgements, s, rules / s, peak_rss_mb());
  std::printf("BENCH stage=check rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f checks=%zu judgements=%zu\n",
              rules, s, rules / s, peak_rss_mb(), checks, judgements);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--one") return run_one(std::strtoull(argv[2], nullptr, 10));
  std::vector<std::string> sizes = {"1000", "100000", "1000000"};
  if (const char* env = std::getenv("RULEC_BENCH_SIZES")) {
    sizes.clear();
    std::istringstream in(env);
    for (std::string n; in >> n;) sizes.push_back(n);
  }
  for (const std::string& n : sizes) {
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
