// Exact sets of packets: what lint, the VPN check and the Windows backend
// reason with.
//
// A PacketSet is a union of pairwise disjoint boxes. A box is a product of
// one value set per packet field (direction, interface, family, protocol,
// source and destination address, source and destination port, ICMP type),
// each a sorted list of disjoint inclusive ranges, never empty. An IR rule's
// match is one box (before it is clipped to the packet universe), so rule
// sets stay small; subtracting a box splits another into at most one piece
// per field. Every operation is exact: emptiness is a proof, and a non-empty
// set always yields a concrete witness packet.
//
// The universe follows lib/ir/ir.hpp's domain conventions: ports are 0 for
// protocols other than tcp, udp and sctp; the ICMP type is 0 for protocols
// other than ICMP; ICMP (1) is only IPv4's and ICMPv6 (58) only IPv6's;
// IPv4 addresses lie in 0..2^32-1. Interfaces are indexes into
// ir::Policy::interfaces, plus one more for "an interface the policy never
// names". Sets built from different policies must not be mixed.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "analysis/packet.hpp"
#include "ir/ir.hpp"

namespace rulec::analysis {

/// The packet fields, in the order a box stores them.
enum class Field : std::uint8_t { Direction, Interface, Family, Protocol, Src, Dst, Sport, Dport, IcmpType };
inline constexpr std::size_t kFieldCount = 9;
/// The places of the two address fields in a box or a point.
inline constexpr std::size_t kSrc = static_cast<std::size_t>(Field::Src), kDst = static_cast<std::size_t>(Field::Dst);

/// An inclusive range of one field's values (every field widened to 128 bits).
using Interval = ir::Range<ir::U128>;

/// One packet as a value per field, in Field order (the interface as its
/// index in the policy).
using Point = std::array<ir::U128, kFieldCount>;

/// The intervals of a box: a few kept in place (most boxes have one per
/// field), more on the heap. Boxes are copied and split all the time, so
/// this saves an allocation per box.
class BoxIntervals {
 public:
  static constexpr std::size_t kInPlace = 9;  // one interval per field: most boxes
  BoxIntervals() = default;
  BoxIntervals(const BoxIntervals& o) { *this = o; }
  BoxIntervals& operator=(const BoxIntervals& o) {
    if (this == &o) return *this;
    size_ = o.size_;
    if (o.size_ > kInPlace) heap_ = o.heap_;  // a copy holds no spare room
    else std::copy(o.place_.begin(), o.place_.begin() + o.size_, place_.begin());
    return *this;
  }
  BoxIntervals(BoxIntervals&& o) noexcept { *this = std::move(o); }
  BoxIntervals& operator=(BoxIntervals&& o) noexcept {
    size_ = o.size_;
    if (o.size_ > kInPlace) heap_ = std::move(o.heap_);
    else std::copy(o.place_.begin(), o.place_.begin() + o.size_, place_.begin());
    o.size_ = 0;
    return *this;
  }
  const Interval* data() const { return size_ > kInPlace ? heap_.data() : place_.data(); }
  std::size_t size() const { return size_; }
  void append(const Interval* first, const Interval* last) {
    auto n = static_cast<std::size_t>(last - first);
    if (size_ + n > kInPlace) {
      if (size_ <= kInPlace) {  // room for the fields still to come too: one block per box
        heap_.reserve(size_ + n + kFieldCount);
        heap_.assign(place_.begin(), place_.begin() + size_);
      }
      heap_.insert(heap_.end(), first, last);
    } else {
      std::copy(first, last, place_.begin() + size_);
    }
    size_ += n;
  }

 private:
  std::size_t size_ = 0;
  std::array<Interval, kInPlace> place_;
  std::vector<Interval> heap_;  ///< all of them, once there are more than kInPlace
};

/// A product of one non-empty value set per field.
class Box {
 public:
  /// The values of one field: sorted, disjoint, non-adjacent, never empty.
  std::span<const Interval> operator[](Field f) const {
    auto i = static_cast<std::size_t>(f);
    return {intervals_.data() + start_[i], static_cast<std::size_t>(start_[i + 1] - start_[i])};
  }
  /// Smallest and largest value of a field.
  Interval hull(Field f) const {
    auto s = (*this)[f];
    return {s.front().lo, s.back().hi};
  }
  /// True when the packet (with its interface index in the policy) lies in the box.
  bool contains(const Packet& p, std::uint32_t iface) const;
  /// True when the point lies in the box.
  bool holds(const Point& v) const;
  /// True when every packet of `inner` lies in the box.
  bool covers(const Box& inner) const;

  /// Builds a box field by field: call add() for each field in Field order.
  /// Returns false (and leaves the box unusable) when a field is empty.
  class Builder;

 private:
  friend class Builder;
  friend class PacketSet;
  std::array<std::uint16_t, kFieldCount + 1> start_{};
  BoxIntervals intervals_;
};

class Box::Builder {
 public:
  /// Appends the next field's value set (sorted, disjoint); false when empty.
  bool add(std::span<const Interval> values);
  /// The finished box; only valid after kFieldCount successful add() calls.
  Box take() { return std::move(box_); }

 private:
  Box box_;
  std::size_t field_ = 0;
};

/// A set of packets: a union of pairwise disjoint boxes.
class PacketSet {
 public:
  /// The empty set.
  PacketSet() = default;

  /// Every packet the policy's universe holds (see the top of this file).
  static PacketSet all(const ir::Policy& policy);
  /// The packets an IR rule's match covers.
  static PacketSet of(const ir::Match& match, const ir::Policy& policy);
  /// One packet (empty when the packet breaks the universe's conventions).
  static PacketSet of(const Packet& packet, const ir::Policy& policy);
  /// The packets of one direction.
  static PacketSet of(ir::Direction direction, const ir::Policy& policy);

  /// In-place set algebra; each returns *this.
  PacketSet& unite(const PacketSet& other);
  PacketSet& intersect(const PacketSet& other);
  PacketSet& subtract(const PacketSet& other);

  /// subtract(), telling whether the set shared any packet with `other`
  /// (whether it changed): cheaper than intersects() and then subtract().
  bool take_away(const PacketSet& other);

  /// The same operations as values.
  friend PacketSet operator|(PacketSet a, const PacketSet& b) { return a.unite(b); }
  friend PacketSet operator&(PacketSet a, const PacketSet& b) { return a.intersect(b); }
  friend PacketSet operator-(PacketSet a, const PacketSet& b) { return a.subtract(b); }

  bool empty() const { return boxes_.empty(); }
  /// True when the two sets share a packet (cheaper than intersecting).
  bool intersects(const PacketSet& other) const;
  /// True when every packet of `other` is in this set.
  bool contains(const PacketSet& other) const;
  /// True when the packet lies in the set.
  bool contains(const Packet& p, const ir::Policy& policy) const;
  /// True when the point lies in the set.
  bool holds(const Point& v) const;

  /// A concrete packet of the set, chosen deterministically and realistically
  /// (documentation addresses, tcp/udp, well-known ports where the set allows);
  /// nullopt when the set is empty.
  std::optional<Packet> witness(const ir::Policy& policy) const;

  /// The replies to the packets of the set: the other direction, source and
  /// destination swapped (addresses and ports), ICMP echo-request answered
  /// by echo-reply as analysis::reply_to does.
  PacketSet replies() const;

  /// The disjoint boxes whose union is the set.
  const std::vector<Box>& boxes() const { return boxes_; }
  /// Smallest and largest value of a field over the whole set (empty set: {1, 0}).
  Interval hull(Field f) const;

  /// Adds a box known to be disjoint from every box already in the set.
  void add_disjoint(Box b) { boxes_.push_back(std::move(b)); }

 private:
  /// Subtracts one box; true when the set met it.
  bool cut(const Box& b);
  /// all(policy), kept: valid until the next call with another interface count.
  static const PacketSet& universe(const ir::Policy& policy);
  std::vector<Box> boxes_;
};

/// Set operations on one field's sorted, disjoint interval lists.
namespace values {
std::vector<Interval> intersect(std::span<const Interval> a, std::span<const Interval> b);
std::vector<Interval> subtract(std::span<const Interval> a, std::span<const Interval> b);
/// intersect() and subtract() into `out` (cleared first), reusing its room.
void intersect_into(std::span<const Interval> a, std::span<const Interval> b, std::vector<Interval>& out);
void subtract_into(std::span<const Interval> a, std::span<const Interval> b, std::vector<Interval>& out);
bool overlap(std::span<const Interval> a, std::span<const Interval> b);
/// The values of either list; the lists need not be sorted or disjoint.
std::vector<Interval> unite(std::span<const Interval> a, std::span<const Interval> b);
/// True when every value of `inner` is in `outer`.
bool covers(std::span<const Interval> outer, std::span<const Interval> inner);
}  // namespace values

/// True when the point keeps the universe's conventions (the top of this
/// file): the same answer as PacketSet::all(policy).holds(v), much cheaper.
bool in_universe(const Point& v, const ir::Policy& policy);

/// The interface index of a packet in a policy (interfaces.size() for unnamed).
std::uint32_t interface_index(const ir::Policy& policy, const Packet& p);

}  // namespace rulec::analysis
