// The `require vpn` lint pass.
#include "vpn/require.hpp"

#include <fmt/format.h>

#include "vpn/check.hpp"

namespace rulec::vpn {
namespace {

using diag::Severity;

std::string where(const analysis::Packet& p) {
  const char* dir = p.direction == ir::Direction::In ? "inbound" : "outbound";
  return p.interface.empty() ? std::string(dir) : fmt::format("{} on {}", dir, p.interface);
}

std::string flow(const Row& row) {
  return row.sender == Side::Client ? "from the client to the server" : "from the server to the client";
}

/// The note at the rule or default that dropped the packet.
void add_blocking_note(const ir::Policy& policy, const Judgement& j, diag::Diagnostic& d) {
  auto loc = deciding_location(policy, j);
  if (!loc) return;
  const char* verb = j.verdict.action == ir::Action::Reject ? "rejects" : "blocks";
  if (j.verdict.by == analysis::Verdict::By::Default) {
    d.notes.push_back({*loc, fmt::format("no rule passes it, so this default {} it", verb)});
  } else {
    d.notes.push_back({*loc, fmt::format("this rule {} it (the deciding rule: {})", verb,
                                         policy.rules[static_cast<std::size_t>(j.verdict.rule)].done
                                             ? "it has 'done'"
                                             : "the last one that matches")});
  }
}

/// For a dropped reply: the rule that passed the request without keeping state.
void add_stateless_note(const ir::Policy& policy, const Row& request, diag::Diagnostic& d) {
  for (const Judgement& j : request.hops) {
    if (j.verdict.by != analysis::Verdict::By::Rule) continue;
    const ir::Rule& r = policy.rules[static_cast<std::size_t>(j.verdict.rule)];
    if (r.state) continue;
    d.notes.push_back({r.origin, fmt::format("this rule passes the first packet ({}) without '>> state', so "
                                             "its replies are judged by the rules",
                                             where(j.packet))});
    d.hint = "add '>> state' to the rule that passes the first packet, or pass the replies with a rule";
    return;
  }
  d.hint = "pass the replies, or keep state where the first packet is passed";
}

diag::Diagnostic failing_row(const ir::Policy& policy, const ir::Requirement& req, const Check& c, std::size_t i) {
  const Row& row = c.rows[i];
  const Leg& leg = c.profile.legs[row.leg];
  const Judgement& j = *row.blocking();
  std::string what = fmt::format("{} ({})", leg_name(leg), leg.purpose);
  std::string message = fmt::format("VPN '{}' would not work: {}{} {} {} {}; the user sees: {}", req.vpn, what,
                                    row.reply ? " replies" : "", flow(row),
                                    fmt::format("{} {}", row.reply ? "are" : "is",
                                                j.verdict.action == ir::Action::Reject ? "rejected" : "dropped"),
                                    where(j.packet), leg.symptom);
  diag::Diagnostic d{Severity::Error, row.reply ? "RC401" : "RC400", std::move(message), req.origin};
  add_blocking_note(policy, j, d);
  if (row.reply && i > 0) add_stateless_note(policy, c.rows[i - 1], d);
  if (!row.reply) d.hint = fmt::format("pass {} {}", leg_name(leg), where(j.packet));
  d.witness = analysis::format_packet(j.packet);
  return d;
}

void check_one(const ir::Policy& policy, const ir::Requirement& req, diag::Sink& sink) {
  CheckError error;
  std::optional<Check> c = check_vpn(policy, Request::from(req), error);
  if (!c) {
    bool unknown = error.kind == CheckError::Kind::UnknownProfile;
    diag::Diagnostic d{Severity::Error, unknown ? "RC215" : "RC216", error.message, req.origin};
    if (!error.suggestion.empty()) d.hint = fmt::format("did you mean '{}'?", error.suggestion);
    sink.add(std::move(d));
    return;
  }
  for (const std::string& remark : c->remarks)
    sink.add({Severity::Warning, "RC402", remark, req.origin});
  for (std::size_t i = 0; i < c->rows.size(); ++i)
    if (c->rows[i].blocking()) sink.add(failing_row(policy, req, *c, i));
}

}  // namespace

void lint_requirements(const ir::Policy& policy, diag::Sink& sink) {
  for (const ir::Requirement& req : policy.requirements) check_one(policy, req, sink);
}

}  // namespace rulec::vpn
