// Benchmark: how long `nft -f` takes to load rulec's output, next to a
// ruleset written the way the nftables documentation recommends for the
// same policy (sets of concatenations instead of one rule a value).
//
// Two policies of n rules (RULEC_BENCH_SIZES, default 100000):
// - "generated": bench/policy_gen.hpp's policy, whose rules overlap and whose
//   order decides. Its hand-written counterpart leaves out what an admin
//   would not write: the rules `rulec lint` proves never decide a packet
//   (RC300-RC302; deleting them all at once changes no verdict), and it logs
//   with one prefix a verdict instead of one a rule (labels change only log
//   prefixes and comments), so rules that log share sets too; no comments.
//   It is written by rulec from that policy (so it is equivalent by the
//   same tests as rulec's own output).
// - "uniform": n `pass in` rules for distinct hosts and TCP ports, under
//   `default block in`. Its hand-written counterpart is written here, not by
//   rulec: one set `ip daddr . tcp dport` and one accept, in input and
//   forward; the same verdict for every packet by construction.
// For the generated policy also rulec's output with `--prune` (without the
// rules lint proves never decide a packet; lib/backends/nft_prune.hpp).
// Each file is loaded into a fresh network namespace (deleted afterwards,
// also when the load fails). Prints a human line and one BENCH line per
// load (bench/README.md), stage=load:nft, load:nft-prune and
// load:nft-handwritten. Needs root; without it, prints
// "SKIPPED: needs root ..." and no BENCH line, and exits 0 (bench/run lists
// it as skipped, not as measured or failed).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "analysis/lint.hpp"
#include "backends/backend.hpp"
#include "backends/nft_prune.hpp"
#include "frontend.hpp"
#include "measure.hpp"
#include "policy_gen.hpp"

namespace {

using Clock = std::chrono::steady_clock;

bool compile_nft(const std::string& text, std::string& out, bool prune = false) {
  auto doc = rulec::load_text(std::string(text), "policy.rules", "");
  if (!doc->ok()) return false;
  rulec::backends::EmitOptions options;
  options.sources = &doc->sources;
  rulec::diag::Sink sink;
  if (prune) {
    auto dead = rulec::backends::dead_source_rules(doc->ir, doc->ast, doc->sources);
    rulec::ir::Policy kept = rulec::backends::without_source_rules(doc->ir, dead);
    return rulec::backends::compile(*rulec::backends::find("nft"), kept, options, out, sink);
  }
  return rulec::backends::compile(*rulec::backends::find("nft"), doc->ir, options, out, sink);
}

/// The policy with every logging rule labelled "log" (so one log prefix).
std::string one_log_prefix(const std::string& policy) {
  std::istringstream in(policy);
  std::string line, out;
  static const std::regex label(R"(, label "[^"]*")");
  while (std::getline(in, line)) {
    if (line.find(">>") != std::string::npos && line.find("log") != std::string::npos) {
      line = std::regex_replace(line, label, "");
      line += ", label \"log\"";
    }
    out += line + '\n';
  }
  return out;
}

/// The policy without the rules lint reports as deciding nothing.
std::string without_dead_rules(const std::string& policy) {
  auto doc = rulec::load_text(std::string(policy), "policy.rules", "");
  rulec::diag::Sink sink;
  rulec::analysis::lint(doc->ir, doc->ast, doc->sources, sink);
  std::set<std::uint32_t> dead;
  for (const auto& d : sink.all())
    if (d.code == "RC300" || d.code == "RC301" || d.code == "RC302")
      dead.insert(doc->sources.file(d.loc.file).line_col(d.loc.begin).line);
  std::istringstream in(policy);
  std::string line, out;
  for (std::uint32_t n = 1; std::getline(in, line); ++n)
    if (!dead.count(n)) out += line + '\n';
  std::printf("(the generated policy without %zu rules that decide nothing)\n", dead.size());
  return out;
}

std::string without_comments(const std::string& nft) {
  static const std::regex comment(R"( comment "[^"]*")");
  return std::regex_replace(nft, comment, "");
}

/// The i-th host and port of the uniform policy: distinct for every i.
std::string host(std::size_t i) {
  return "10." + std::to_string((i >> 16) & 255) + '.' + std::to_string((i >> 8) & 255) + '.' +
         std::to_string(i & 255);
}
unsigned port(std::size_t i) { return 1 + static_cast<unsigned>(i * 7919 % 65534); }

std::string uniform_policy(std::size_t n) {
  std::string p = "default block in\ndefault pass out\n";
  for (std::size_t i = 0; i < n; ++i)
    p += "pass in protocol tcp, to " + host(i) + " port " + std::to_string(port(i)) + " >> done\n";
  return p;
}

std::string uniform_handwritten(std::size_t n) {
  std::string t =
      "table inet hand {}\ndelete table inet hand\ntable inet hand {\n"
      "\tset allowed {\n\t\ttype ipv4_addr . inet_service; flags interval;\n\t\telements = { ";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) t += ",\n\t\t\t";
    t += host(i) + " . " + std::to_string(port(i));
  }
  t += " }\n\t}\n"
       "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
       "\t\tip daddr . tcp dport @allowed accept\n\t}\n"
       "\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n"
       "\t\tip daddr . tcp dport @allowed accept\n\t}\n}\n";
  return t;
}

/// Loads `nft` into a fresh namespace; the seconds `nft -f` took, or -1.
double load(const std::string& nft, const std::string& tag) {
  std::string file = "/tmp/rulec-nft-load-" + std::to_string(getpid()) + "-" + tag + ".nft";
  std::ofstream(file, std::ios::binary) << nft;
  std::string ns = "rulecload" + std::to_string(getpid());
  double s = -1;
  if (std::system(("ip netns add " + ns).c_str()) == 0) {
    auto t0 = Clock::now();
    int rc = std::system(("ip netns exec " + ns + " nft -f " + file).c_str());
    s = rc == 0 ? std::chrono::duration<double>(Clock::now() - t0).count() : -1;
    std::system(("ip netns del " + ns).c_str());
  }
  std::remove(file.c_str());
  return s;
}

int report(const char* stage, const char* policy, std::size_t rules, const std::string& nft, double s) {
  if (s < 0) {
    std::fprintf(stderr, "nft_load_bench: loading %s (%s) failed\n", stage, policy);
    return 1;
  }
  std::printf("%-22s %-9s %8zu rules  %7.2f s  %6.1f MB\n", stage, policy, rules, s, nft.size() / 1e6);
  std::printf("BENCH stage=%s rules=%zu seconds=%.3f rules_per_s=%.0f peak_rss_mb=%.1f policy=%s mb=%.1f\n", stage,
              rules, s, rules / s, rulec::bench::peak_rss_mb(), policy, nft.size() / 1e6);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main() {
  if (geteuid() != 0) {
    std::printf("SKIPPED: needs root (loads nft rulesets into fresh network namespaces); no measurement\n");
    return 0;
  }
  std::string sizes = std::getenv("RULEC_BENCH_SIZES") ? std::getenv("RULEC_BENCH_SIZES") : "100000";
  std::istringstream in(sizes);
  int rc = 0;
  for (std::size_t n; in >> n;) {
    std::string policy = rulec::bench::generate_policy(n), ours, hand;
    if (!compile_nft(policy, ours) || !compile_nft(one_log_prefix(without_dead_rules(policy)), hand)) {
      std::fprintf(stderr, "nft_load_bench: the generated policy did not compile\n");
      return 1;
    }
    rc |= report("load:nft", "generated", n, ours, load(ours, "ours"));
    if (!compile_nft(policy, ours, true)) return 1;
    rc |= report("load:nft-prune", "generated", n, ours, load(ours, "ours"));
    hand = without_comments(hand);
    rc |= report("load:nft-handwritten", "generated", n, hand, load(hand, "hand"));
    if (!compile_nft(uniform_policy(n), ours)) return 1;
    rc |= report("load:nft", "uniform", n, ours, load(ours, "ours"));
    hand = uniform_handwritten(n);
    rc |= report("load:nft-handwritten", "uniform", n, hand, load(hand, "hand"));
  }
  return rc;
}
