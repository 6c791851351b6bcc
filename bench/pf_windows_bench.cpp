// Benchmark: the pf and Windows backends on generated policies.
//
// pf: 100k and 1M rules, end to end (parse, check, lower, emit) and the
// emit stage alone. Windows: 1k, 10k, 40k and 100k rules, the time to
// compute the order-free rule set and write it, and the size of that set (Windows rules
// written), or the refusal's code and how long it took; once with the
// generator's defaults (block in, pass out) and once with `default block`
// both ways (`windows-block`); and `windows-netsh` (netsh advfirewall
// commands) at 1k, 10k and 100k on the `default block` policies with their
// interface names dropped (netsh cannot name interfaces: RC555). Each size runs
// in a child process of its own (so peak memory belongs to it alone) with a
// time limit (RULEC_BENCH_LIMIT seconds, default 300). Prints a human line
// and one `BENCH` line per measurement (bench/README.md).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/backend.hpp"
#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using rulec::bench::peak_rss_mb;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// `windows-block` is `windows` on the same policies with `default block`
/// both ways, so both directions cover what the rules pass.
int run_one(const std::string& name, std::size_t rules) {
  std::string text = rulec::bench::generate_policy(rules);
  std::string target = name;
  if (name == "windows-block" || name == "windows-netsh") {
    target = name == "windows-block" ? "windows" : "windows-netsh";
    auto at = text.find("default pass out\n");
    if (at != std::string::npos) text.replace(at, 17, "default block out\n");
  }
  if (name == "windows-netsh")
    for (const char* on : {" on lan", " on wan", " on dmz", " on eth0.100"}) {
      std::string kept;
      std::size_t from = 0, n = std::strlen(on);
      for (std::size_t at; (at = text.find(on, from)) != std::string::npos; from = at + n) kept.append(text, from, at - from);
      kept.append(text, from);
      text = std::move(kept);
    }
  auto t0 = Clock::now();
  auto doc = rulec::load_text(std::move(text), "generated.rules");
  double load_s = since(t0);
  if (!doc->ok()) {
    std::fprintf(stderr, "generated policy has errors\n");
    return 1;
  }
  const rulec::backends::BackendEntry* entry = rulec::backends::find(target);
  const char* label = name.c_str();
  rulec::backends::EmitOptions options;
  options.sources = &doc->sources;
  rulec::diag::Sink sink;
  std::string out;
  auto t1 = Clock::now();
  bool ok = rulec::backends::compile(*entry, doc->ir, options, out, sink);
  double emit_s = since(t1);
  double total_s = since(t0);
  if (!ok) {
    double mb = peak_rss_mb();
    std::string why = sink.all().empty() ? std::string("?") : sink.all().back().code + ": " + sink.all().back().message;
    std::printf("%-13s %8zu rules  IR %8zu  refused (%s) after %.3f s: %s  peak %7.1f MB\n", label, rules,
                doc->ir.rules.size(), sink.all().empty() ? "?" : sink.all().back().code.c_str(), emit_s, why.c_str(),
                mb);
    std::printf("BENCH stage=compile:%s rules=%zu seconds=%.4f rules_per_s=0 peak_rss_mb=%.1f refused=%s\n",
                label, rules, emit_s, mb, sink.all().empty() ? "?" : sink.all().back().code.c_str());
    return 0;
  }
  std::size_t lines = 0, commands = 0;
  for (char c : out) lines += c == '\n';
  const char* command = target == "windows" ? "New-NetFirewallRule " : "advfirewall firewall add rule ";
  for (std::size_t pos = 0; (pos = out.find(command, pos)) != std::string::npos; ++pos) ++commands;
  double mb = peak_rss_mb();
  std::string size = target != "pf" ? std::to_string(commands) + " Windows rules, " : std::string();
  std::printf("%-13s %8zu rules  IR %8zu  load %7.3f s  emit %7.3f s  total %7.3f s  %10.0f rules/s end to end  "
              "output %s%.1f MB, %zu lines  peak %7.1f MB\n",
              label, rules, doc->ir.rules.size(), load_s, emit_s, total_s, rules / total_s, size.c_str(),
              out.size() / 1e6, lines, mb);
  std::printf("BENCH stage=compile:%s rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f\n", label, rules,
              emit_s, rules / emit_s, mb);
  std::printf("BENCH stage=end-to-end:%s rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f\n", label, rules,
              total_s, rules / total_s, mb);
  if (target != "pf")
    std::printf("BENCH stage=rule-set:%s rules=%zu windows_rules=%zu seconds=%.4f rules_per_s=%.0f peak_rss_mb=%.1f\n",
                label, rules, commands, emit_s, rules / emit_s, mb);
  return 0;
}

bool run_child(const char* self, const char* target, const char* n, unsigned limit) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(limit);
    execl("/proc/self/exe", self, "--one", target, n, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    std::printf("%-8s %8s rules  did not finish within %u s\n", target, n, limit);
    std::printf("BENCH stage=compile:%s rules=%s seconds=timeout rules_per_s=0 peak_rss_mb=0\n", target, n);
    return true;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--one") return run_one(argv[2], std::strtoull(argv[3], nullptr, 10));
  unsigned limit = std::getenv("RULEC_BENCH_LIMIT") ? std::atoi(std::getenv("RULEC_BENCH_LIMIT")) : 300;
  bool ok = true;
  for (const char* n : {"100000", "1000000"}) ok = run_child(argv[0], "pf", n, limit) && ok;
  for (const char* t : {"windows", "windows-block"})
    for (const char* n : {"1000", "10000", "40000", "100000"}) ok = run_child(argv[0], t, n, limit) && ok;
  for (const char* n : {"1000", "10000", "100000"}) ok = run_child(argv[0], "windows-netsh", n, limit) && ok;
  return ok ? 0 : 1;
}
