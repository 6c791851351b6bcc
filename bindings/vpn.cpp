// The VPN check as plain Python data (see convert.hpp).
#include "convert.hpp"
#include "vpn/check.hpp"
#include "vpn/profiles.hpp"

namespace rulec::python {
namespace {


py::object optional_location(const Document& doc, const std::optional<diag::Location>& loc) {
  return loc ? py::object(location(doc.sources, *loc)) : py::object(py::none());
}

py::dict hop(const Document& doc, const vpn::Judgement& j) {
  py::dict d;
  d["packet"] = text(analysis::format_packet(j.packet));
  d["verdict"] = ir::to_string(j.verdict.action);
  d["decided_by"] = analysis::to_string(j.verdict.by);
  d["location"] = optional_location(doc, vpn::deciding_location(doc.ir, j));
  d["created_state"] = j.verdict.created_state;
  return d;
}

py::dict row(const Document& doc, const vpn::Check& c, const vpn::Row& r) {
  const vpn::Leg& leg = c.profile.legs[r.leg];
  py::dict d;
  d["leg"] = text(vpn::leg_name(leg));
  d["purpose"] = text(leg.purpose);
  d["sender"] = vpn::to_string(r.sender);
  d["reply"] = r.reply;
  d["verdict"] = vpn::to_string(r.outcome);
  py::list hops;
  for (const vpn::Judgement& j : r.hops) hops.append(hop(doc, j));
  d["hops"] = hops;
  d["symptom"] = r.passed() ? py::object(py::none()) : py::object(text(leg.symptom));
  const vpn::Judgement* blocking = r.blocking();
  d["blocked_by"] =
      blocking ? optional_location(doc, vpn::deciding_location(doc.ir, *blocking)) : py::object(py::none());
  return d;
}

py::dict error(const Document& doc, const vpn::CheckError& e) {
  py::dict d;
  d["error"] = e.kind == vpn::CheckError::Kind::UnknownProfile ? "unknown-profile" : "bad-request";
  d["message"] = text(e.message);
  d["suggestion"] = e.suggestion.empty() ? py::object(py::none()) : py::object(text(e.suggestion));
  d["known"] = vpn_profile_names(&doc);
  return d;
}

}  // namespace

py::dict vpn_check(const Document& doc, const VpnQuestion& q) {
  vpn::Request request;
  request.profile = q.profile;
  request.role = q.role == "server" ? vpn::Side::Server : vpn::Side::Client;
  request.via_in = q.via_in;
  request.via_out = q.via_out;
  request.on = q.on;
  request.peer = q.peer;
  request.port = q.port;
  vpn::CheckError err;
  std::optional<vpn::Check> c = vpn::check_vpn(doc.ir, request, err);
  if (!c) return error(doc, err);
  py::dict d;
  d["vpn"] = text(c->profile.name);
  d["description"] = text(c->profile.description);
  d["note"] = c->profile.note.empty() ? py::object(py::none()) : py::object(text(c->profile.note));
  d["custom"] = c->profile.custom;
  d["works"] = c->works();
  d["client"] = text(ir::format_address(c->family, c->client));
  d["server"] = text(ir::format_address(c->family, c->server));
  py::list remarks, rows;
  for (const std::string& r : c->remarks) remarks.append(text(r));
  for (const vpn::Row& r : c->rows) rows.append(row(doc, *c, r));
  d["remarks"] = remarks;
  d["rows"] = rows;
  return d;
}

py::list vpn_profile_names(const Document* doc) {
  py::list out;
  if (doc) {
    for (const std::string& name : vpn::profile_names(doc->ir)) out.append(text(name));
  } else {
    for (const vpn::Profile& p : vpn::builtin_profiles()) out.append(text(p.name));
  }
  return out;
}

}  // namespace rulec::python
