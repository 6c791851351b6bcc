// Packet sets as unions of disjoint boxes.
#include "analysis/packetset.hpp"

#include <algorithm>

namespace rulec::analysis {

using ir::U128;

namespace values {

void intersect_into(std::span<const Interval> a, std::span<const Interval> b, std::vector<Interval>& out) {
  out.clear();
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    U128 lo = std::max(a[i].lo, b[j].lo), hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    if (a[i].hi < b[j].hi) ++i; else ++j;
  }
}

std::vector<Interval> intersect(std::span<const Interval> a, std::span<const Interval> b) {
  std::vector<Interval> out;
  intersect_into(a, b, out);
  return out;
}

std::vector<Interval> subtract(std::span<const Interval> a, std::span<const Interval> b) {
  std::vector<Interval> out;
  subtract_into(a, b, out);
  return out;
}

void subtract_into(std::span<const Interval> a, std::span<const Interval> b, std::vector<Interval>& out) {
  out.clear();
  std::size_t j = 0;
  for (Interval cur : a) {
    bool alive = true;
    while (j < b.size() && b[j].hi < cur.lo) ++j;
    std::size_t k = j;
    while (alive && k < b.size() && b[k].lo <= cur.hi) {
      if (b[k].lo > cur.lo) out.push_back({cur.lo, b[k].lo - 1});
      if (b[k].hi >= cur.hi) alive = false;
      else cur.lo = b[k].hi + 1;
      ++k;
    }
    if (alive) out.push_back(cur);
  }
}

bool overlap(std::span<const Interval> a, std::span<const Interval> b) {
  if (a.empty() || b.empty() || a.back().hi < b.front().lo || b.back().hi < a.front().lo) return false;
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() > 8 * a.size()) {
    // Lopsided (a rule's few ports against the many holes a carve leaves):
    // look each of a's intervals up in b.
    auto from = b.begin();
    for (const Interval& x : a) {
      from = std::lower_bound(from, b.end(), x.lo, [](const Interval& y, U128 v) { return y.hi < v; });
      if (from == b.end()) return false;
      if (from->lo <= x.hi) return true;
    }
    return false;
  }
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::max(a[i].lo, b[j].lo) <= std::min(a[i].hi, b[j].hi)) return true;
    if (a[i].hi < b[j].hi) ++i; else ++j;
  }
  return false;
}

std::vector<Interval> unite(std::span<const Interval> a, std::span<const Interval> b) {
  std::vector<Interval> all(a.begin(), a.end());
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end(), [](const Interval& x, const Interval& y) { return x.lo < y.lo; });
  std::vector<Interval> out;
  for (const Interval& i : all)
    if (!out.empty() && (out.back().hi == ~ir::U128{0} || out.back().hi + 1 >= i.lo))
      out.back().hi = std::max(out.back().hi, i.hi);
    else
      out.push_back(i);
  return out;
}

bool covers(std::span<const Interval> outer, std::span<const Interval> inner) {
  std::size_t j = 0;
  for (const Interval& v : inner) {
    while (j < outer.size() && outer[j].hi < v.lo) ++j;
    if (j == outer.size() || outer[j].lo > v.lo || outer[j].hi < v.hi) return false;
  }
  return true;
}

}  // namespace values

namespace {

constexpr U128 kV4Max = 0xffffffffu;
constexpr U128 kV6Max = ~U128(0);

Interval iv(U128 lo, U128 hi) { return {lo, hi}; }

template <typename T>
std::vector<Interval> widen(const ir::FieldSet<T>& set, U128 max) {
  if (set.empty()) return {iv(0, max)};
  std::vector<Interval> out;
  out.reserve(set.size());
  for (const auto& r : set) out.push_back({r.lo, r.hi});
  return out;
}

/// One box from per-field value sets, or nullopt when a field is empty.
std::optional<Box> make_box(const std::array<std::vector<Interval>, kFieldCount>& fields) {
  Box::Builder b;
  for (const auto& f : fields)
    if (!b.add(f)) return std::nullopt;
  return b.take();
}

/// The fields of a box as separate vectors (for building variants of it).
std::array<std::vector<Interval>, kFieldCount> fields_of(const Box& b) {
  std::array<std::vector<Interval>, kFieldCount> out;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto s = b[static_cast<Field>(f)];
    out[f].assign(s.begin(), s.end());
  }
  return out;
}

/// The fields in the order that tells boxes apart soonest.
constexpr Field kTellingOrder[] = {Field::Dport, Field::Dst, Field::Src,       Field::Protocol, Field::Interface,
                                   Field::Direction, Field::Family, Field::Sport, Field::IcmpType};

/// values::overlap, with the common case (one interval each) inline.
inline bool fields_overlap(std::span<const Interval> a, std::span<const Interval> b) {
  if (a.back().hi < b.front().lo || b.back().hi < a.front().lo) return false;
  return (a.size() == 1 && b.size() == 1) || values::overlap(a, b);
}

bool boxes_overlap(const Box& a, const Box& b) {
  for (Field f : kTellingOrder)
    if (!fields_overlap(a[f], b[f])) return false;
  return true;
}

/// Per-thread room for a field's values while boxes are cut, so cutting
/// allocates nothing but the pieces.
std::vector<Interval>& scratch(std::size_t i) {
  thread_local std::array<std::vector<Interval>, kFieldCount + 1> room;
  return room[i];
}

std::optional<Box> box_intersect(const Box& a, const Box& b) {
  Box::Builder out;
  std::vector<Interval>& both = scratch(kFieldCount);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto fa = a[static_cast<Field>(f)], fb = b[static_cast<Field>(f)];
    if (values::covers(fb, fa)) {
      if (!out.add(fa)) return std::nullopt;
      continue;
    }
    values::intersect_into(fa, fb, both);
    if (!out.add(both)) return std::nullopt;
  }
  return out.take();
}

/// True when every field of the box is one interval.
bool simple(const Box& b) {
  for (std::size_t f = 0; f < kFieldCount; ++f)
    if (b[static_cast<Field>(f)].size() != 1) return false;
  return true;
}

/// box_subtract for two boxes of one interval per field (most boxes), with
/// no allocation but the pieces'.
void simple_subtract(const Box& a, const Box& b, std::vector<Box>& out) {
  std::array<Interval, kFieldCount> inside;
  for (std::size_t f = 0; f < kFieldCount; ++f) inside[f] = a[static_cast<Field>(f)].front();
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    Interval x = a[static_cast<Field>(f)].front(), y = b[static_cast<Field>(f)].front();
    if (y.lo <= x.lo && x.hi <= y.hi) continue;  // b covers a in this field
    Interval outside[2];
    std::size_t n = 0;
    if (x.lo < y.lo) outside[n++] = {x.lo, y.lo - 1};
    if (y.hi < x.hi) outside[n++] = {y.hi + 1, x.hi};
    Box::Builder piece;
    for (std::size_t g = 0; g < kFieldCount; ++g)
      piece.add(g == f ? std::span<const Interval>(outside, n) : std::span<const Interval>(&inside[g], 1));
    out.push_back(piece.take());
    inside[f] = {std::max(x.lo, y.lo), std::min(x.hi, y.hi)};
  }
}

/// a \ b as disjoint boxes appended to `out`: one piece per field where a
/// reaches outside b, with the fields before it narrowed to the overlap.
void box_subtract(Box&& a, const Box& b, std::vector<Box>& out) {
  if (!boxes_overlap(a, b)) {
    out.push_back(std::move(a));  // untouched: moved on, its intervals not copied
    return;
  }
  if (simple(a) && simple(b)) {
    simple_subtract(a, b, out);
    return;
  }
  // a ∩ b per field, when narrower than a (scratch(f)); a's field outside b (scratch(kFieldCount)).
  std::array<bool, kFieldCount> narrowed{};
  auto field = [&](std::size_t g) {
    return narrowed[g] ? std::span<const Interval>(scratch(g)) : a[static_cast<Field>(g)];
  };
  std::vector<Interval>& outside = scratch(kFieldCount);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    auto fa = a[static_cast<Field>(f)], fb = b[static_cast<Field>(f)];
    if (values::covers(fb, fa)) continue;
    values::subtract_into(fa, fb, outside);
    Box::Builder piece;
    for (std::size_t g = 0; g < kFieldCount; ++g) piece.add(g == f ? std::span<const Interval>(outside) : field(g));
    out.push_back(piece.take());
    values::intersect_into(fa, fb, scratch(f));
    narrowed[f] = true;
  }
}

/// The universe's boxes for one family, on every direction and interface.
void universe_boxes(std::uint32_t ifaces, ir::Family fam, std::vector<Box>& out) {
  bool v6 = fam == ir::Family::Inet6;
  U128 amax = v6 ? kV6Max : kV4Max;
  U128 icmp = v6 ? ir::proto::icmpv6 : ir::proto::icmp;
  std::vector<Interval> dirs{iv(0, 1)}, ifs{iv(0, ifaces)}, fams{iv(U128(v6), U128(v6))}, addr{iv(0, amax)};
  std::vector<Interval> zero{iv(0, 0)}, ports{iv(0, 65535)}, types{iv(0, 255)};
  std::vector<Interval> port_protos{iv(6, 6), iv(17, 17), iv(132, 132)};
  std::vector<Interval> other_protos =
      values::subtract(std::vector<Interval>{iv(0, 255)},
                       std::vector<Interval>{iv(1, 1), iv(6, 6), iv(17, 17), iv(58, 58), iv(132, 132)});
  out.push_back(*make_box({dirs, ifs, fams, port_protos, addr, addr, ports, ports, zero}));
  out.push_back(*make_box({dirs, ifs, fams, {iv(icmp, icmp)}, addr, addr, zero, zero, types}));
  out.push_back(*make_box({dirs, ifs, fams, other_protos, addr, addr, zero, zero, zero}));
}

/// The first value of `set` among `preferred`, else its smallest value
/// (skipping 0 when the set holds more, so addresses and ports look real).
U128 pick(std::span<const Interval> set, std::initializer_list<U128> preferred, bool skip_zero = false) {
  for (U128 v : preferred)
    for (const Interval& r : set)
      if (r.contains(v)) return v;
  if (skip_zero && set.front().lo == 0 && set.front().hi > 0) return 1;
  return set.front().lo;
}

}  // namespace

bool Box::Builder::add(std::span<const Interval> values) {
  if (values.empty() || field_ >= kFieldCount) return false;
  box_.intervals_.append(values.data(), values.data() + values.size());
  box_.start_[++field_] = static_cast<std::uint16_t>(box_.intervals_.size());
  return true;
}

bool Box::contains(const Packet& p, std::uint32_t iface) const {
  return holds({U128(static_cast<int>(p.direction)), iface, U128(static_cast<int>(p.family)), p.protocol, p.src, p.dst,
                p.sport, p.dport, p.icmp_type});
}

bool Box::holds(const Point& v) const {
  for (Field f : kTellingOrder) {
    auto s = (*this)[f];
    ir::U128 x = v[static_cast<std::size_t>(f)];
    if (x < s.front().lo || x > s.back().hi) return false;
    if (s.size() > 1 && std::none_of(s.begin(), s.end(), [&](const Interval& r) { return r.contains(x); })) return false;
  }
  return true;
}

bool Box::covers(const Box& inner) const {
  for (Field f : kTellingOrder)
    if (!values::covers((*this)[f], inner[f])) return false;
  return true;
}

bool in_universe(const Point& v, const ir::Policy& policy) {
  auto at = [&](Field f) { return v[static_cast<std::size_t>(f)]; };
  if (at(Field::Direction) > 1 || at(Field::Interface) > policy.interfaces.size() || at(Field::Family) > 1) return false;
  bool v6 = at(Field::Family) == 1;
  if (!v6 && (at(Field::Src) > kV4Max || at(Field::Dst) > kV4Max)) return false;
  if (at(Field::Protocol) > 255) return false;
  auto proto = static_cast<unsigned>(at(Field::Protocol));
  bool no_ports = at(Field::Sport) == 0 && at(Field::Dport) == 0;
  if (ir::proto::has_ports(proto)) return at(Field::IcmpType) == 0 && at(Field::Sport) <= 65535 && at(Field::Dport) <= 65535;
  if (proto == (v6 ? ir::proto::icmpv6 : ir::proto::icmp)) return no_ports && at(Field::IcmpType) <= 255;
  return !ir::proto::is_icmp(proto) && no_ports && at(Field::IcmpType) == 0;
}

std::uint32_t interface_index(const ir::Policy& policy, const Packet& p) {
  return p.interface.empty() ? static_cast<std::uint32_t>(policy.interfaces.size())
                             : policy.interface_index(p.interface);
}

const PacketSet& PacketSet::universe(const ir::Policy& policy) {
  // The universe depends only on the number of interfaces: built once per
  // count (and thread), kept until eight other counts came after it.
  thread_local std::vector<std::pair<std::uint32_t, PacketSet>> built;
  auto n = static_cast<std::uint32_t>(policy.interfaces.size());
  for (const auto& [count, set] : built)
    if (count == n) return set;
  PacketSet s;
  universe_boxes(n, ir::Family::Inet, s.boxes_);
  universe_boxes(n, ir::Family::Inet6, s.boxes_);
  if (built.size() > 8) built.erase(built.begin());
  return built.emplace_back(n, std::move(s)).second;
}

PacketSet PacketSet::all(const ir::Policy& policy) { return universe(policy); }

PacketSet PacketSet::of(const ir::Match& m, const ir::Policy& policy) {
  auto raw = make_box({widen(m.directions, 1), widen(m.interfaces, policy.interfaces.size()), widen(m.families, 1),
                       widen(m.protocols, 255), widen(m.src, kV6Max), widen(m.dst, kV6Max), widen(m.sport, 65535),
                       widen(m.dport, 65535), widen(m.icmp_types, 255)});
  PacketSet out;
  if (!raw) return out;
  for (const Box& u : universe(policy).boxes_)
    if (auto b = box_intersect(u, *raw)) out.boxes_.push_back(std::move(*b));
  return out;
}

PacketSet PacketSet::of(const Packet& p, const ir::Policy& policy) {
  ir::Match m;
  auto one8 = [](std::uint8_t v) { return ir::FieldSet<std::uint8_t>{{v, v}}; };
  auto one16 = [](std::uint16_t v) { return ir::FieldSet<std::uint16_t>{{v, v}}; };
  std::uint32_t iface = interface_index(policy, p);
  m.directions = one8(static_cast<std::uint8_t>(p.direction));
  m.interfaces = {{iface, iface}};
  m.families = one8(static_cast<std::uint8_t>(p.family));
  m.protocols = one8(p.protocol);
  m.src = {{p.src, p.src}};
  m.dst = {{p.dst, p.dst}};
  m.sport = one16(p.sport);
  m.dport = one16(p.dport);
  m.icmp_types = one8(p.icmp_type);
  return of(m, policy);
}

PacketSet PacketSet::of(ir::Direction d, const ir::Policy& policy) {
  ir::Match m;
  m.directions = {{static_cast<std::uint8_t>(d), static_cast<std::uint8_t>(d)}};
  return of(m, policy);
}

Interval PacketSet::hull(Field f) const {
  if (boxes_.empty()) return {1, 0};
  Interval h = boxes_.front().hull(f);
  for (const Box& b : boxes_) {
    Interval x = b.hull(f);
    h.lo = std::min(h.lo, x.lo);
    h.hi = std::max(h.hi, x.hi);
  }
  return h;
}

bool PacketSet::cut(const Box& b) {
  // The boxes before the first that b meets stay where they are; the rest
  // are cut into per-thread room and moved back behind them, in order.
  std::size_t first = 0;
  while (first < boxes_.size() && !boxes_overlap(boxes_[first], b)) ++first;
  if (first == boxes_.size()) return false;
  thread_local std::vector<Box> tail;
  tail.clear();
  for (std::size_t i = first; i < boxes_.size(); ++i) box_subtract(std::move(boxes_[i]), b, tail);
  boxes_.erase(boxes_.begin() + static_cast<std::ptrdiff_t>(first), boxes_.end());
  for (Box& piece : tail) boxes_.push_back(std::move(piece));
  return true;
}

bool PacketSet::take_away(const PacketSet& other) {
  bool met = false;
  for (const Box& b : other.boxes_) {
    if (boxes_.empty()) break;
    met |= cut(b);
  }
  return met;
}

PacketSet& PacketSet::subtract(const PacketSet& other) {
  take_away(other);
  return *this;
}

PacketSet& PacketSet::unite(const PacketSet& other) {
  PacketSet extra = other;
  extra.subtract(*this);
  for (Box& b : extra.boxes_) boxes_.push_back(std::move(b));
  return *this;
}

PacketSet& PacketSet::intersect(const PacketSet& other) {
  std::vector<Box> out;
  for (const Box& a : boxes_)
    for (const Box& b : other.boxes_)
      if (auto x = box_intersect(a, b)) out.push_back(std::move(*x));
  boxes_ = std::move(out);
  return *this;
}

bool PacketSet::intersects(const PacketSet& other) const {
  for (const Box& a : boxes_)
    for (const Box& b : other.boxes_)
      if (boxes_overlap(a, b)) return true;
  return false;
}

bool PacketSet::contains(const PacketSet& other) const {
  // Each box of `other` inside one box of this set settles it without a
  // subtraction: the common case of two sets cut apart by the universe alike
  // (and the only case when this set is one box).
  auto within_one = [&](const Box& b) {
    return std::any_of(boxes_.begin(), boxes_.end(), [&](const Box& a) { return a.covers(b); });
  };
  if (boxes_.size() == 1) return std::all_of(other.boxes_.begin(), other.boxes_.end(), within_one);
  // A corner of `other` outside this set settles it cheaply.
  for (const Box& b : other.boxes_) {
    Point lo, hi;
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      auto v = b[static_cast<Field>(f)];
      lo[f] = v.front().lo;
      hi[f] = v.back().hi;
    }
    if (!holds(lo) || !holds(hi)) return false;
  }
  if (std::all_of(other.boxes_.begin(), other.boxes_.end(), within_one)) return true;
  return (other - *this).empty();
}

bool PacketSet::holds(const Point& v) const {
  return std::any_of(boxes_.begin(), boxes_.end(), [&](const Box& b) { return b.holds(v); });
}

bool PacketSet::contains(const Packet& p, const ir::Policy& policy) const {
  std::uint32_t iface = interface_index(policy, p);
  return std::any_of(boxes_.begin(), boxes_.end(), [&](const Box& b) { return b.contains(p, iface); });
}

std::optional<Packet> PacketSet::witness(const ir::Policy& policy) const {
  if (boxes_.empty()) return std::nullopt;
  const Box& b = boxes_.front();
  Packet p;
  p.direction = static_cast<ir::Direction>(static_cast<int>(b[Field::Direction].front().lo));
  auto unnamed = static_cast<ir::U128>(policy.interfaces.size());
  auto iface = static_cast<std::uint32_t>(pick(b[Field::Interface], {unnamed}));
  p.interface = iface < policy.interfaces.size() ? policy.interfaces[iface] : "";
  p.family = static_cast<ir::Family>(static_cast<int>(b[Field::Family].front().lo));
  bool v6 = p.family == ir::Family::Inet6;
  p.protocol = static_cast<std::uint8_t>(pick(b[Field::Protocol], {6, 17, 1, 58, 47, 50}));
  const U128 doc6 = U128(0x20010db8) << 96;  // 2001:db8::/32
  p.src = pick(b[Field::Src], {v6 ? doc6 + 7 : U128(0xc0000207), v6 ? doc6 + 1 : U128(0xc0000201)}, true);
  p.dst = pick(b[Field::Dst], {v6 ? doc6 + 2 : U128(0xc6336402), v6 ? doc6 + 3 : U128(0xc6336401)}, true);
  p.sport = static_cast<std::uint16_t>(pick(b[Field::Sport], {40000, 1024}, true));
  p.dport = static_cast<std::uint16_t>(pick(b[Field::Dport], {443, 80, 1723}, true));
  U128 echo = p.protocol == ir::proto::icmpv6 ? 128 : 8;
  p.icmp_type = static_cast<std::uint8_t>(pick(b[Field::IcmpType], {echo}));
  if (!ir::proto::has_ports(p.protocol)) p.sport = p.dport = 0;
  if (!ir::proto::is_icmp(p.protocol)) p.icmp_type = 0;
  return p;
}

PacketSet PacketSet::replies() const {
  PacketSet out;
  for (const Box& b : boxes_) {
    auto f = fields_of(b);
    const auto d = static_cast<std::size_t>(Field::Direction);
    f[d] = values::intersect(std::vector<Interval>{iv(0, 1)}, f[d]);  // keep sorted after the flip
    std::vector<Interval> flipped;
    for (const Interval& r : f[d]) flipped.push_back({1 - r.hi, 1 - r.lo});
    std::reverse(flipped.begin(), flipped.end());
    f[d] = flipped;
    std::swap(f[static_cast<std::size_t>(Field::Src)], f[static_cast<std::size_t>(Field::Dst)]);
    std::swap(f[static_cast<std::size_t>(Field::Sport)], f[static_cast<std::size_t>(Field::Dport)]);
    auto& types = f[static_cast<std::size_t>(Field::IcmpType)];
    auto proto = b[Field::Protocol];
    U128 request = 0, reply = 0;
    if (proto.size() == 1 && proto[0].lo == proto[0].hi && ir::proto::is_icmp(static_cast<unsigned>(proto[0].lo))) {
      request = proto[0].lo == ir::proto::icmp ? 8 : 128;
      reply = proto[0].lo == ir::proto::icmp ? 0 : 129;
    }
    std::vector<Interval> req{iv(request, request)};
    if (request && values::overlap(types, req)) {
      std::vector<Interval> rest = values::subtract(types, req);
      PacketSet answered;  // echo-requests become echo-replies
      auto g = f;
      g[static_cast<std::size_t>(Field::IcmpType)] = {iv(reply, reply)};
      answered.boxes_.push_back(*make_box(g));
      if (auto others = (types = rest, make_box(f))) {
        PacketSet o;
        o.boxes_.push_back(std::move(*others));
        answered.unite(o);
      }
      out.unite(answered);
      continue;
    }
    PacketSet one;
    one.boxes_.push_back(*make_box(f));
    out.unite(one);
  }
  return out;
}

}  // namespace rulec::analysis
