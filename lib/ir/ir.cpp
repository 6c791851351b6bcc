// Helpers of the intermediate form: names, field-set normalisation, addresses.
#include "ir/ir.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace rulec::ir {

const char* to_string(Action a) {
  switch (a) {
    case Action::Pass: return "pass";
    case Action::Block: return "block";
    case Action::Reject: return "reject";
  }
  return "?";
}

const char* to_string(Direction d) { return d == Direction::In ? "in" : "out"; }
const char* to_string(Family f) { return f == Family::Inet ? "inet" : "inet6"; }

template <typename T>
void normalise(FieldSet<T>& set) {
  // Most sets are one value, or already sorted and apart: leave them as they are.
  bool done = true;
  for (std::size_t i = 1; i < set.size() && done; ++i)
    done = set[i - 1].hi < set[i].lo && set[i].lo - set[i - 1].hi > 1;
  if (done) return;
  std::sort(set.begin(), set.end(), [](const Range<T>& a, const Range<T>& b) { return a.lo < b.lo; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (out > 0 && (set[i].lo <= set[out - 1].hi ||
                    (set[out - 1].hi != static_cast<T>(~T(0)) && set[i].lo == set[out - 1].hi + 1))) {
      set[out - 1].hi = std::max(set[out - 1].hi, set[i].hi);
    } else {
      set[out++] = set[i];
    }
  }
  set.resize(out);
}

template void normalise(FieldSet<std::uint8_t>&);
template void normalise(FieldSet<std::uint16_t>&);
template void normalise(FieldSet<std::uint32_t>&);
template void normalise(FieldSet<U128>&);

bool Rule::matches_everything() const {
  const Match& m = match;
  return m.directions.empty() && m.interfaces.empty() && m.families.empty() && m.protocols.empty() &&
         m.src.empty() && m.dst.empty() && m.sport.empty() && m.dport.empty() && m.icmp_types.empty();
}

void Policy::set_label(Rule& r, std::string_view text) {
  if (text.empty()) {
    r.label_id = 0;
    return;
  }
  auto it = std::find(labels.begin(), labels.end(), text);
  if (it == labels.end()) it = labels.emplace(labels.end(), text);
  r.label_id = static_cast<std::uint32_t>(it - labels.begin()) + 1;
}

std::uint32_t Policy::interface_index(const std::string& name) const {
  auto it = std::find(interfaces.begin(), interfaces.end(), name);
  return static_cast<std::uint32_t>(it - interfaces.begin());
}

std::string format_address(Family f, U128 a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (f == Family::Inet) {
    std::uint32_t v = htonl(static_cast<std::uint32_t>(a));
    inet_ntop(AF_INET, &v, buf, sizeof buf);
  } else {
    unsigned char bytes[16];
    for (int i = 15; i >= 0; --i) {
      bytes[i] = static_cast<unsigned char>(a & 0xff);
      a >>= 8;
    }
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
  }
  return buf;
}

std::optional<std::pair<Family, U128>> parse_address(const std::string& text) {
  unsigned char bytes[16];
  if (text.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, text.c_str(), bytes) != 1) return std::nullopt;
    U128 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | bytes[i];
    return std::pair{Family::Inet, v};
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) != 1) return std::nullopt;
  U128 v = 0;
  for (int i = 0; i < 16; ++i) v = (v << 8) | bytes[i];
  return std::pair{Family::Inet6, v};
}

}  // namespace rulec::ir
