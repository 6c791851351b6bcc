// The table of targets, and the driver that checks capabilities centrally.
#include <fmt/format.h>

#include "backends/backend.hpp"

namespace rulec::backends {

std::unique_ptr<Backend> make_iptables_backend();
std::unique_ptr<Backend> make_ip6tables_backend();
std::unique_ptr<Backend> make_nft_backend();
std::unique_ptr<Backend> make_pf_backend();
std::unique_ptr<Backend> make_windows_backend();
std::unique_ptr<Backend> make_windows_netsh_backend();

namespace {

// One row per target; a backend file adds its row here and nothing else.
constexpr BackendEntry kTargets[] = {
    {"iptables", "iptables-restore input for IPv4 (raw and filter tables, replaced atomically)", make_iptables_backend},
    {"ip6tables", "ip6tables-restore input for IPv6 (raw and filter tables, replaced atomically)", make_ip6tables_backend},
    {"nft", "an nft -f script: one table inet rulec, replaced atomically", make_nft_backend},
    {"pf", "pf.conf filter rules for pfctl -f (OpenBSD, FreeBSD, macOS)", make_pf_backend},
    {"windows", "Windows Firewall: PowerShell New-NetFirewallRule script, an order-free rule set", make_windows_backend},
    {"windows-netsh", "Windows Firewall: netsh advfirewall commands for netsh -f", make_windows_netsh_backend},
    {nullptr, nullptr, nullptr},
};

std::span<const BackendEntry> table() {
  std::span<const BackendEntry> all(kTargets);
  std::size_t n = 0;
  while (n < all.size() && all[n].name) ++n;
  return all.first(n);
}

/// The first feature of `r` that `caps` lacks, or nullptr.
const char* missing_feature(const ir::Rule& r, const Capabilities& caps) {
  if (r.action == ir::Action::Reject && !caps.reject) return "reject";
  if (r.log && !caps.log) return "log";
  if (r.label_id && !caps.label) return "label";
  if (!r.match.interfaces.empty() && !caps.interfaces) return "on IFACE";
  if (!caps.ipv6 && !(r.match.families.size() == 1 && r.match.families[0].lo == 0 && r.match.families[0].hi == 0))
    return "IPv6";
  if (!r.match.icmp_types.empty() && !caps.icmp_types) return "icmp-type";
  if (r.action == ir::Action::Pass && !r.state && !caps.stateless) return "a pass without state";
  return nullptr;
}

}  // namespace

std::vector<std::string> missing_features(const Capabilities& caps) {
  std::vector<std::string> out;
  auto note = [&](bool has, const char* what) {
    if (!has) out.emplace_back(what);
  };
  note(caps.reject, "reject");
  note(caps.log, "log");
  note(caps.label, "label");
  note(caps.interfaces, "on IFACE");
  note(caps.ipv6, "IPv6");
  note(caps.icmp_types, "icmp-type");
  note(caps.stateless, "stateless pass");
  return out;
}

std::span<const BackendEntry> registry() { return table(); }

const BackendEntry* find(std::string_view name) {
  for (const BackendEntry& e : table())
    if (name == e.name) return &e;
  return nullptr;
}

std::string Output::text() && {
  if (parts_.size() == 1) {
    std::string one = std::move(parts_[0]);
    clear();
    return one;
  }
  std::string all;
  all.reserve(size_);
  for (std::string& part : parts_) {
    all += part;
    part = {};  // given back as it is copied
  }
  clear();
  return all;
}

bool compile(const BackendEntry& target, const ir::Policy& policy, const EmitOptions& options, std::string& out,
             diag::Sink& sink) {
  Output parts;
  const bool ok = compile(target, policy, options, parts, sink);
  out = std::move(parts).text();
  return ok;
}

bool compile(const BackendEntry& target, const ir::Policy& policy, const EmitOptions& options, Output& out,
             diag::Sink& sink) {
  out.clear();
  auto backend = target.make();
  Capabilities caps = backend->capabilities();
  bool ok = true;
  std::uint32_t last_reported = UINT32_MAX;
  // A target that lacks nothing needs no look at the rules (a million IR
  // rules are a third of a gigabyte to read through).
  const bool complete = missing_features(caps).empty();
  for (const ir::Rule& r : complete ? std::span<const ir::Rule>() : std::span<const ir::Rule>(policy.rules)) {
    const char* feature = missing_feature(r, caps);
    if (!feature || r.source_rule == last_reported) continue;
    last_reported = r.source_rule;
    diag::Diagnostic d{diag::Severity::Error, "RC501",
                       fmt::format("target '{}' cannot express {} in this rule", target.name, feature), r.origin};
    d.hint = "change the rule, or compile for a target that supports it (rulec targets)";
    sink.add(std::move(d));
    ok = false;
  }
  if (!ok) return false;
  if (!backend->emit(policy, options, out, sink)) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace rulec::backends
