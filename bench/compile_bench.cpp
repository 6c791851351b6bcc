// Benchmark: compile generated policies to the Linux targets, end to end.
//
// For each size (100k and 1M rules) and each target (nft, iptables,
// ip6tables) the benchmark re-runs itself in a child process, so each
// peak-memory figure belongs to one run alone, and times parse + checks +
// lowering + emit. With --nft-load (as root), it also loads the 100k nft
// output with `nft -f` into a fresh network namespace and reports the time.
// Prints a human line and one `BENCH` line per measurement (bench/README.md).
// The library's defaults decide how many threads parse, lower and write a
// policy; RULEC_BENCH_THREADS=1 makes all three one thread,
// RULEC_BENCH_THREADS=2 lowering and writing two threads from 20,000 rules
// (the output is the same either way).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "backends/backend.hpp"
#include "backends/linux_rules.hpp"
#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using rulec::bench::peak_rss_mb;

/// Compiles one generated policy; writes the output to `save` when given.
int run_one(std::size_t rules, const std::string& target, const char* save) {
  std::string text = rulec::bench::generate_policy(rules);
  rulec::semantics::LowerOptions lower;
  const char* env = std::getenv("RULEC_BENCH_THREADS");
  const std::string threads = env && (std::string(env) == "1" || std::string(env) == "2") ? env : "default";
  if (threads == "1")
    lower.two_threads_from = rulec::backends::linux_fw::two_threads_from = rulec::syntax::two_threads_from = SIZE_MAX;
  if (threads == "2") lower.two_threads_from = rulec::backends::linux_fw::two_threads_from = 20000;
  auto t0 = Clock::now();
  auto doc = rulec::load_text(std::move(text), "generated.rules", "", lower);
  if (!doc->ok()) {
    std::fprintf(stderr, "generated policy has errors\n");
    return 1;
  }
  auto t1 = Clock::now();
  rulec::backends::EmitOptions options;
  options.sources = &doc->sources;
  rulec::diag::Sink sink;
  rulec::backends::Output out;  // in parts, as the rulec command writes it
  if (!rulec::backends::compile(*rulec::backends::find(target), doc->ir, options, out, sink)) {
    std::fprintf(stderr, "compiling for %s failed\n", target.c_str());
    return 1;
  }
  auto t2 = Clock::now();
  double front = std::chrono::duration<double>(t1 - t0).count();
  double s = std::chrono::duration<double>(t2 - t0).count();
  std::printf("compile:%-9s %8zu rules  %8.3f s (front end %.3f s, emit %.3f s)  %10.0f rules/s  %7.1f MB out  peak %7.1f MB\n",
              target.c_str(), rules, s, front, s - front, rules / s, out.size() / 1e6, peak_rss_mb());
  std::printf("BENCH stage=compile:%s rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f front_s=%.3f threads=%s\n",
              target.c_str(), rules, s, rules / s, peak_rss_mb(), front, threads.c_str());
  if (save) {
    std::ofstream file(save, std::ios::binary);
    for (const std::string& part : out.parts()) file << part;
  }
  return 0;
}

int child(const char* self, const char* n, const char* target, const char* save) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", self, "--one", n, target, save, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/// Loads an nft script into a fresh network namespace and reports the time.
int nft_load(const char* path, std::size_t rules) {
  std::string ns = "rulecbench" + std::to_string(getpid());
  if (std::system(("ip netns add " + ns).c_str()) != 0) return 1;
  auto t0 = Clock::now();
  int rc = std::system(("ip netns exec " + ns + " nft -f " + path).c_str());
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::system(("ip netns del " + ns).c_str());
  if (rc != 0) {
    std::fprintf(stderr, "nft -f %s failed\n", path);
    return 1;
  }
  std::printf("nft -f load     %8zu rules  %8.3f s in a fresh namespace\n", rules, s);
  std::printf("BENCH stage=load:nft rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=0\n", rules, s, rules / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--one")
    return run_one(std::strtoull(argv[2], nullptr, 10), argv[3], argc >= 5 ? argv[4] : nullptr);
  bool load = argc >= 2 && std::string(argv[1]) == "--nft-load";
  std::string saved = "/tmp/rulec-bench-100k-" + std::to_string(getpid()) + ".nft";
  for (const char* n : {"100000", "1000000"})
    for (const char* target : {"nft", "iptables", "ip6tables"}) {
      bool keep = load && std::string(n) == "100000" && std::string(target) == "nft";
      if (child(argv[0], n, target, keep ? saved.c_str() : nullptr) != 0) return 1;
    }
  int rc = 0;
  if (load) {
    rc = nft_load(saved.c_str(), 100000);
    std::remove(saved.c_str());
  }
  return rc;
}
