// Fuzz target: the packet syntax of `rulec trace` (analysis::parse_packet).
//
// Any text either parses or gives an error naming a column. A packet that
// parses formats back to itself (format, parse, compare), formatting is
// idempotent, the reply of its reply is itself (ICMP types aside), and under a fixed stateful
// policy a packet that created state has its reply passed by that state.
#include "fuzz_support.hpp"

using namespace rulec;

namespace {

const char* const kPolicy =
    "default block\n"
    "pass out on wan protocol tcp, to port { 443, 1723 } >> state\n"
    "pass out on wan protocol gre >> state, done\n"
    "pass in on lan from 192.0.2.0/24 >> state\n"
    "pass in on lan family inet6 >> state\n"
    "pass protocol udp, to port 53 >> state\n"
    "block in on wan protocol icmp\n";

const ir::Policy& policy() {
  static const auto parsed = fuzz::parse(kPolicy, true);
  if (!parsed->ok()) fuzz::fail("the fixed policy of the packet fuzzer does not lower");
  return parsed->ir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<analysis::Packet> p = analysis::parse_packet(text, error);
  if (!p) {
    RULEC_FUZZ_CHECK(error.find("column ") != std::string::npos, "a packet error without a column", text, error);
    return 0;
  }
  std::string once = analysis::format_packet(*p);
  std::optional<analysis::Packet> q = analysis::parse_packet(once, error);
  RULEC_FUZZ_CHECK(q.has_value(), "a formatted packet does not parse", once, error);
  RULEC_FUZZ_CHECK(*q == *p, "a formatted packet parses to another packet", text, once);
  RULEC_FUZZ_CHECK(analysis::format_packet(*q) == once, "formatting a packet is not idempotent", once);
  // The reply of the reply is the packet itself (ICMP types aside: echo-request's reply is echo-reply).
  analysis::Packet back = analysis::reply_to(analysis::reply_to(*p));
  if (ir::proto::is_icmp(p->protocol)) back.icmp_type = p->icmp_type;
  RULEC_FUZZ_CHECK(back == *p, "the reply of the reply is another packet", once);

  analysis::StateTable state;
  analysis::Verdict v = analysis::evaluate(policy(), *p, &state);
  RULEC_FUZZ_CHECK(v.created_state == (state.size() > 0), "created_state disagrees with the state table", once);
  if (v.created_state) {
    analysis::Verdict reply = analysis::evaluate(policy(), analysis::reply_to(*p), &state);
    RULEC_FUZZ_CHECK(reply.passed() && reply.by == analysis::Verdict::By::State,
                     "the reply of a packet that created state was not passed by it", once);
  }
  return 0;
}
