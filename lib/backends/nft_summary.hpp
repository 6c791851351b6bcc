// What the nft merge planner (nft_merge.cpp) knows of a kernel rule, and
// the tests it asks of two: does one hold the other whole, can a packet
// match both. The exact tests read an entry and its IR rule; at a million
// rules those are cache misses, so each placed entry also has a Summary
// (sketches of its fields, which of them match anything, its protocols and
// destination ports when they are few) and, in the planner's lists, a
// 32-bit signature: these turn most candidates away, or decide them, without
// the reads. Every such shortcut is exact: it never answers otherwise than
// the exact tests would (a unit test compares them on random entries).
#pragma once

#include <algorithm>
#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>

#include "backends/nft_merge.hpp"

namespace rulec::backends::nft_merge {

/// True when some value is in both (empty: any value).
template <typename T>
bool meets(const ir::FieldSet<T>& a, const ir::FieldSet<T>& b) {
  if (a.empty() || b.empty()) return true;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].hi < b[j].lo) ++i;
    else if (b[j].hi < a[i].lo) ++j;
    else return true;
  }
  return false;
}

/// True when every value of `b` is in `a` (sorted ranges; none: any value).
template <typename T>
bool holds(std::span<const ir::Range<T>> a, std::span<const ir::Range<T>> b) {
  if (a.empty()) return true;
  if (b.empty()) return false;
  std::size_t i = 0;
  for (const auto& r : b) {
    while (i < a.size() && a[i].hi < r.lo) ++i;
    if (i == a.size() || a[i].lo > r.lo || a[i].hi < r.hi) return false;
  }
  return true;
}
template <typename T>
bool holds(const ir::FieldSet<T>& a, const ir::FieldSet<T>& b) {
  return holds<T>({a.data(), a.size()}, {b.data(), b.size()});
}

/// A set of IP protocols, one bit each (std::bitset's operators build
/// temporaries; these tests are in the planner's innermost loops).
struct Protocols {
  std::uint64_t w[4] = {0, 0, 0, 0};
  bool operator[](unsigned v) const { return (w[v >> 6] >> (v & 63)) & 1; }
  std::size_t count() const {
    return std::bitset<64>(w[0]).count() + std::bitset<64>(w[1]).count() + std::bitset<64>(w[2]).count() +
           std::bitset<64>(w[3]).count();
  }
  /// True when some protocol is in both.
  bool meets(const Protocols& o) const {
    return ((w[0] & o.w[0]) | (w[1] & o.w[1]) | (w[2] & o.w[2]) | (w[3] & o.w[3])) != 0;
  }
  /// True when every protocol of this one is in `o`.
  bool within(const Protocols& o) const {
    return ((w[0] & ~o.w[0]) | (w[1] & ~o.w[1]) | (w[2] & ~o.w[2]) | (w[3] & ~o.w[3])) == 0;
  }
};

/// The protocols of an alternative (none listed: all of them).
inline Protocols protocols_of(const AltFields& alt) {
  Protocols p;
  if (alt.protocols.empty()) {
    for (auto& w : p.w) w = ~std::uint64_t{0};
    return p;
  }
  for (const auto& r : alt.protocols)  // a word at a time
    for (unsigned v = r.lo; v <= r.hi; v = (v | 63) + 1) {
      const unsigned n = std::min<unsigned>(r.hi, v | 63) - v + 1;
      p.w[v >> 6] |= (n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1) << (v & 63);
    }
  if (alt.negate_protocols)
    for (auto& w : p.w) w = ~w;
  return p;
}

/// Bit 0: IPv4, bit 1: IPv6.
inline unsigned families_of(const ir::Rule& r) {
  int f = linux_fw::rule_family(r.match);
  return f < 0 ? 3u : 1u << f;
}

/// Some bits of a field's values: bit (v * 2654435761 mod 2^32) >> 26 of each
/// value, or all 64 bits when the field has none (any value) or more than
/// kSketched. If `b`'s values are all in `a`'s, then `b`'s bits are all in
/// `a`'s (a field with more than kSketched values holds only one with as
/// many): a test that rejects most holder candidates without reading them.
constexpr std::size_t kSketched = 16;
template <typename T>
std::uint64_t sketch(const ir::FieldSet<T>& set) {
  std::uint64_t bits = 0;
  std::size_t count = 0;
  for (const auto& r : set) {
    count += static_cast<std::size_t>(r.hi - r.lo) + 1;
    if (count > kSketched) return ~std::uint64_t{0};
    for (std::uint32_t v = r.lo;; ++v) {
      bits |= std::uint64_t{1} << ((v * 2654435761u) >> 26);
      if (v == r.hi) break;
    }
  }
  return set.empty() ? ~std::uint64_t{0} : bits;
}

/// Fields of an entry that match any value (Listed::any).
enum : std::uint8_t {
  kAnyInterface = 1,
  kAnySource = 2,
  kAnyDestination = 4,
  kAnySourcePort = 8,
  kAnyDestinationPort = 16,
  kAnyIcmpType = 32,
  kAnyProtocol = 64,
};

/// What decides most tests of whether an entry holds another exactly,
/// families apart: which of its fields match any value, and its protocols
/// and destination ports when they are few (up to `Ranges` ranges).
template <std::size_t Ranges>
struct Listed {
  std::uint8_t any = 0;  ///< the fields that match any value (kAnyInterface...)
  std::uint8_t n_protocols = 0;  ///< protocol_values used; 0: not listed
  std::uint8_t n_dports = 0;     ///< dport_ranges used; 0: not listed
  std::array<std::uint8_t, 4> protocol_values{};
  std::array<ir::Range<std::uint16_t>, Ranges> dport_ranges{};
};

/// The Listed part of entry `e`.
template <std::size_t Ranges>
Listed<Ranges> listed_of(const Entry& e) {
  const ir::Match& m = e.rule->match;
  Listed<Ranges> l;
  l.any = (m.interfaces.empty() ? kAnyInterface : 0) | (m.src.empty() ? kAnySource : 0) |
          (m.dst.empty() ? kAnyDestination : 0) | (e.sport->empty() ? kAnySourcePort : 0) |
          (e.dport->empty() ? kAnyDestinationPort : 0) | (e.icmp_types->empty() ? kAnyIcmpType : 0) |
          (e.protocols.empty() ? kAnyProtocol : 0);
  if (!e.negate_protocols && !e.protocols.empty()) {
    std::size_t n = 0;
    for (const auto& r : e.protocols) n += static_cast<std::size_t>(r.hi - r.lo) + 1;
    if (n <= l.protocol_values.size())
      for (const auto& r : e.protocols)
        for (unsigned v = r.lo; v <= r.hi; ++v) l.protocol_values[l.n_protocols++] = static_cast<std::uint8_t>(v);
  }
  if (!e.dport->empty() && e.dport->size() <= Ranges)
    for (const auto& r : *e.dport) l.dport_ranges[l.n_dports++] = r;
  return l;
}

/// Whether the entry `a` lists matches every packet entry `b` (with
/// protocols `bp`) matches, families apart, as far as `a` tells: 1 yes,
/// 0 no, -1 unknown (the entry and its rule must be read).
template <std::size_t Ranges>
int holds_by_listed(const Listed<Ranges>& a, const Entry& b, const Protocols& bp) {
  bool known = true;
  if (!(a.any & kAnyProtocol)) {
    if (a.n_protocols == 0) {
      known = false;
    } else {
      Protocols ap;
      for (std::uint8_t k = 0; k < a.n_protocols; ++k)
        ap.w[a.protocol_values[k] >> 6] |= std::uint64_t{1} << (a.protocol_values[k] & 63);
      if (!bp.within(ap)) return 0;
    }
  }
  if (!(a.any & kAnyDestinationPort)) {
    if (a.n_dports == 0) known = false;
    else if (!holds<std::uint16_t>({a.dport_ranges.data(), a.n_dports}, {b.dport->data(), b.dport->size()})) return 0;
  }
  constexpr unsigned kRead = kAnyInterface | kAnySource | kAnyDestination | kAnySourcePort | kAnyIcmpType;
  return known && (a.any & kRead) == kRead ? 1 : -1;
}

/// What the planner's tests read first of every placed entry, in one array:
/// its families, sketches of its interfaces, protocols and destination
/// ports, and its Listed part. The exact tests read the entry and its IR
/// rule only when these cannot decide (protocols_of(), holds_place(), same_place()).
/// One cache line on a line boundary: a candidate's summary is one read (at
/// 56 bytes most straddled two).
struct alignas(64) Summary {
  std::uint64_t interfaces = 0, protocols = 0, dports = 0;
  std::uint32_t families = 0;
  Listed<4> listed;
  /// False when entry `b` certainly has a packet this one does not match.
  bool may_hold(const Summary& b) const {
    return ((b.families & ~families) | (b.interfaces & ~interfaces) | (b.protocols & ~protocols) |
            (b.dports & ~dports)) == 0;
  }
  /// False when no packet can match both.
  bool may_meet(const Summary& b) const { return (families & b.families) && (protocols & b.protocols); }
};

/// The summary of entry `e`.
inline Summary summary_of(const Entry& e) {
  const std::uint64_t all = ~std::uint64_t{0};
  Summary s;
  s.interfaces = sketch(e.rule->match.interfaces);
  s.protocols = e.negate_protocols ? all : sketch(e.protocols);
  s.dports = sketch(*e.dport);
  s.families = families_of(*e.rule);
  s.listed = listed_of<4>(e);
  return s;
}

/// 10 bits of a 64-bit sketch: its 10-bit pieces or-ed. A fold keeps what
/// the tests need: fold(b) is within fold(a) when b is within a, and two
/// folds meet when the sketches do.
inline std::uint32_t fold(std::uint64_t x) {
  std::uint64_t f = 0;
  for (; x; x >>= 10) f |= x;
  return static_cast<std::uint32_t>(f & 0x3ff);
}

/// A summary in 32 bits, kept beside the entry's index in the planner's
/// lists, so a list is read in order and most candidates are turned away
/// without a look at their summary: families (2 bits), then the folds of
/// protocols, interfaces and destination ports (10 bits each).
inline std::uint32_t signature(const Summary& s) {
  return (s.families & 3) | fold(s.protocols) << 2 | fold(s.interfaces) << 12 | fold(s.dports) << 22;
}

/// True when entry `a` matches every packet `b` matches (protocols and families apart).
inline bool holds_place(const Entry& a, const Entry& b) {
  const ir::Match& x = a.rule->match;
  const ir::Match& y = b.rule->match;
  return holds(x.interfaces, y.interfaces) && holds(x.src, y.src) && holds(x.dst, y.dst) && holds(*a.sport, *b.sport) &&
         holds(*a.dport, *b.dport) && holds(*a.icmp_types, *b.icmp_types);
}

/// True when some packet matches both (protocols and families apart).
inline bool same_place(const Entry& a, const Entry& b) {
  const ir::Match& x = a.rule->match;
  const ir::Match& y = b.rule->match;
  return meets(x.interfaces, y.interfaces) && meets(x.src, y.src) && meets(x.dst, y.dst) && meets(*a.sport, *b.sport) &&
         meets(*a.dport, *b.dport) && meets(*a.icmp_types, *b.icmp_types);
}

/// True when entry `a` matches every packet `b` matches: families,
/// protocols and the rest, by the exact tests.
inline bool holds_whole(const Entry& a, const Entry& b) {
  return (families_of(*b.rule) & ~families_of(*a.rule)) == 0 && protocols_of(b.alt()).within(protocols_of(a.alt())) &&
         holds_place(a, b);
}

/// holds_whole(a, b) as the planner decides it, reading as little of `a` as
/// it can: its signature and what its planner's list keeps (`a_listed`),
/// then its summary, then the entry and its rule, only when those cannot
/// decide. `b_protocols`: protocols_of(b).
inline bool holds_in_steps(std::uint32_t a_signature, const Listed<2>& a_listed, const Summary& a_summary, const Entry& a,
                           std::uint32_t b_signature, const Summary& b_summary, const Entry& b,
                           const Protocols& b_protocols) {
  if (b_signature & ~a_signature) return false;  // families are exact in a signature
  int known = holds_by_listed(a_listed, b, b_protocols);
  if (known < 0) known = a_summary.may_hold(b_summary) ? holds_by_listed(a_summary.listed, b, b_protocols) : 0;
  if (known >= 0) return known == 1;
  return b_protocols.within(protocols_of(a.alt())) && holds_place(a, b);
}

/// holds_in_steps() of two entries, for tests.
inline bool holds_as_planned(const Entry& a, const Entry& b) {
  const Summary sa = summary_of(a), sb = summary_of(b);
  return holds_in_steps(signature(sa), listed_of<2>(a), sa, a, signature(sb), sb, b, protocols_of(b.alt()));
}

/// True when some packet matches both entries, as the planner decides it:
/// summaries first, then the exact tests. `b_protocols`: protocols_of(b).
inline bool meets_in_steps(const Summary& a_summary, const Entry& a, const Summary& b_summary, const Entry& b,
                           const Protocols& b_protocols) {
  return a_summary.may_meet(b_summary) && protocols_of(a.alt()).meets(b_protocols) && same_place(a, b);
}

}  // namespace rulec::backends::nft_merge
