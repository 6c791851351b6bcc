// The normalised intermediate form: what every later stage reads.
//
// Lowering (lib/semantics/lower.cpp) turns the AST into this form: named
// lists and services are expanded, and each source rule becomes one or more
// IR rules, each a plain conjunction of per-field sets. Every field set is a
// sorted list of disjoint, non-adjacent inclusive ranges over an integer
// domain; an empty list means "any value". Lint, the VPN check, trace and
// every backend read this one form, so what is checked is what is emitted.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "diag/source.hpp"

namespace rulec::ir {

/// 128-bit unsigned integer: IPv6 addresses; IPv4 addresses live in the low 32 bits.
using U128 = unsigned __int128;

enum class Action : std::uint8_t { Pass, Block, Reject };
enum class Direction : std::uint8_t { In = 0, Out = 1 };
enum class Family : std::uint8_t { Inet = 0, Inet6 = 1 };

const char* to_string(Action a);
const char* to_string(Direction d);
const char* to_string(Family f);

/// Trailing zero bits of `v` (128 for 0): the largest CIDR block an address can start.
inline unsigned trailing_zeros(U128 v) {
  auto low = static_cast<std::uint64_t>(v), high = static_cast<std::uint64_t>(v >> 64);
  if (low) return static_cast<unsigned>(__builtin_ctzll(low));
  if (high) return 64 + static_cast<unsigned>(__builtin_ctzll(high));
  return 128;
}

/// The largest n with 2^n <= v, for v > 0: the largest CIDR block that fits in v addresses.
inline unsigned floor_log2(U128 v) {
  auto high = static_cast<std::uint64_t>(v >> 64);
  if (high) return 127 - static_cast<unsigned>(__builtin_clzll(high));
  return 63 - static_cast<unsigned>(__builtin_clzll(static_cast<std::uint64_t>(v)));
}

/// Well-known IP protocol numbers.
namespace proto {
inline constexpr std::uint8_t icmp = 1, tcp = 6, udp = 17, gre = 47, esp = 50, ah = 51,
                              icmpv6 = 58, sctp = 132;
/// TCP, UDP and SCTP carry ports; nothing else does.
constexpr bool has_ports(unsigned p) { return p == tcp || p == udp || p == sctp; }
constexpr bool is_icmp(unsigned p) { return p == icmp || p == icmpv6; }
}  // namespace proto

/// An inclusive range over one field's integer domain.
template <typename T>
struct Range {
  T lo{};
  T hi{};
  bool contains(T v) const { return lo <= v && v <= hi; }
  friend bool operator==(const Range&, const Range&) = default;
};

/// A set of values of one field: sorted, disjoint, non-adjacent ranges.
/// Empty means "any".
///
/// Stored like a std::vector (and used like one), except that the first few
/// ranges live inside the object: almost every field of almost every rule
/// is one value or one range, so a million-rule IR makes no heap allocation
/// per field. The inline room is as small as that allows, since a million
/// IR rules are a third of a gigabyte: 8 bytes (the size of the heap
/// pointer it shares) for 1-byte fields (4 ranges: directions, families,
/// protocols, ICMP types) and interfaces (1 range), 16 bytes for ports (4
/// ranges: `{ 80, 443, 8000-8080 }` stays inline), one slot for an address range.
template <typename T>
class FieldSet {
 public:
  using value_type = Range<T>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = Range<T>&;
  using const_reference = const Range<T>&;
  using pointer = Range<T>*;
  using const_pointer = const Range<T>*;
  using iterator = Range<T>*;
  using const_iterator = const Range<T>*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  FieldSet() noexcept {}
  FieldSet(std::initializer_list<Range<T>> ranges) { assign(ranges.begin(), ranges.end()); }
  template <typename It>
    requires(!std::is_integral_v<It>)
  FieldSet(It first, It last) {
    assign(first, last);
  }
  FieldSet(const FieldSet& other) { assign(other.begin(), other.end()); }
  FieldSet(FieldSet&& other) noexcept { take(other); }
  FieldSet& operator=(const FieldSet& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  FieldSet& operator=(FieldSet&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  FieldSet& operator=(std::initializer_list<Range<T>> ranges) {
    assign(ranges.begin(), ranges.end());
    return *this;
  }
  ~FieldSet() { release(); }

  iterator begin() noexcept { return data(); }
  iterator end() noexcept { return data() + size_; }
  const_iterator begin() const noexcept { return data(); }
  const_iterator end() const noexcept { return data() + size_; }
  const_iterator cbegin() const noexcept { return data(); }
  const_iterator cend() const noexcept { return data() + size_; }
  reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
  reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

  Range<T>* data() noexcept { return on_heap() ? store_.heap : store_.local; }
  const Range<T>* data() const noexcept { return on_heap() ? store_.heap : store_.local; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  Range<T>& operator[](std::size_t i) { return data()[i]; }
  const Range<T>& operator[](std::size_t i) const { return data()[i]; }
  Range<T>& front() { return data()[0]; }
  const Range<T>& front() const { return data()[0]; }
  Range<T>& back() { return data()[size_ - 1]; }
  const Range<T>& back() const { return data()[size_ - 1]; }

  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  void resize(std::size_t n) {
    reserve(n);
    for (std::size_t i = size_; i < n; ++i) data()[i] = Range<T>{};
    size_ = static_cast<std::uint32_t>(n);
  }
  void push_back(const Range<T>& r) {
    if (size_ == capacity_) {
      Range<T> copy = r;  // r may live in this set
      grow(2 * capacity_);
      data()[size_++] = copy;
      return;
    }
    data()[size_++] = r;
  }
  template <typename... Args>
  Range<T>& emplace_back(Args&&... args) {
    push_back(Range<T>{std::forward<Args>(args)...});
    return back();
  }
  void pop_back() { --size_; }
  template <typename It>
  void assign(It first, It last) {
    clear();
    reserve(static_cast<std::size_t>(std::distance(first, last)));
    for (; first != last; ++first) data()[size_++] = *first;
  }
  iterator insert(const_iterator pos, const Range<T>& r) { return insert(pos, &r, &r + 1); }
  template <typename It>
  iterator insert(const_iterator pos, It first, It last) {
    std::size_t at = static_cast<std::size_t>(pos - begin());
    FieldSet tail(begin() + at, end());
    size_ = static_cast<std::uint32_t>(at);
    for (; first != last; ++first) push_back(*first);
    for (const Range<T>& t : tail) push_back(t);
    return begin() + at;
  }
  iterator erase(const_iterator first, const_iterator last) {
    auto at = const_cast<iterator>(first);
    iterator out = std::copy(const_cast<iterator>(last), end(), at);
    size_ = static_cast<std::uint32_t>(out - begin());
    return at;
  }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
  void swap(FieldSet& other) noexcept {
    // The store holds the inline ranges or the heap pointer; either way its
    // bytes move as they are.
    std::swap(store_, other.store_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

  friend bool operator==(const FieldSet& a, const FieldSet& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  static constexpr std::uint32_t kLocal = sizeof(Range<T>) == 4 ? 4 : sizeof(Range<T>) >= 8 ? 1 : 8 / sizeof(Range<T>);
  bool on_heap() const noexcept { return capacity_ > kLocal; }
  void grow(std::size_t n) {
    if (n > UINT32_MAX) throw std::length_error("ir::FieldSet too large");
    static_assert(alignof(Range<T>) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    auto* fresh = static_cast<Range<T>*>(::operator new(n * sizeof(Range<T>)));
    std::copy(begin(), end(), fresh);
    release();
    store_.heap = fresh;
    capacity_ = static_cast<std::uint32_t>(n);
  }
  void release() noexcept {
    if (on_heap()) ::operator delete(store_.heap);
    capacity_ = kLocal;
  }
  /// Moves `other`'s ranges here (this set holds nothing), leaving it empty.
  void take(FieldSet& other) noexcept {
    size_ = other.size_;
    capacity_ = other.capacity_;
    store_ = other.store_;  // the inline ranges or the heap pointer
    other.size_ = 0;
    other.capacity_ = kLocal;
  }

  union Store {
    Store() noexcept {}
    Store(const Store&) = default;
    Store& operator=(const Store&) = default;
    Range<T> local[kLocal];
    Range<T>* heap;
  } store_;
  static_assert(std::is_trivially_copyable_v<Range<T>>);
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = kLocal;
};

template <typename T>
bool field_contains(const FieldSet<T>& set, T v) {
  if (set.empty()) return true;
  for (const auto& r : set)
    if (r.contains(v)) return true;
  return false;
}

/// Sorts and merges overlapping or adjacent ranges in place.
template <typename T>
void normalise(FieldSet<T>& set);

/// The match part of an IR rule: a conjunction of field sets.
/// Domains: directions 0..1 (Direction), interfaces 0..N (index into
/// Policy::interfaces; N means "an interface the policy never names"),
/// families 0..1 (Family), protocols 0..255, addresses per family (IPv4 in
/// 0..2^32-1), ports 0..65535 (0 for protocols without ports), ICMP type
/// 0..255 (0 for protocols other than ICMP and ICMPv6).
struct Match {
  FieldSet<std::uint8_t> directions;
  FieldSet<std::uint32_t> interfaces;
  FieldSet<std::uint8_t> families;
  FieldSet<std::uint8_t> protocols;
  /// Addresses are only meaningful together with one family: lowering
  /// splits a rule that names both IPv4 and IPv6 addresses into one IR rule
  /// per family, so a rule with non-empty src/dst has exactly one family.
  FieldSet<U128> src;
  FieldSet<U128> dst;
  FieldSet<std::uint16_t> sport;
  FieldSet<std::uint16_t> dport;
  FieldSet<std::uint8_t> icmp_types;
  friend bool operator==(const Match&, const Match&) = default;
};

/// One IR rule. Several IR rules may share one source rule (`origin`).
///
/// 256 bytes on a 64-byte boundary, so a pass over a million rules reads
/// four cache lines a rule (the label text is in Policy::labels for this),
/// or two: the options, the source rule, the directions, interfaces,
/// families and protocols are in the first two (a backend's look at every
/// rule needs no more).
struct alignas(64) Rule {
  Action action = Action::Pass;
  bool state = false;  ///< `>> state`
  bool done = false;   ///< `>> done`: a match decides at once
  bool log = false;    ///< `>> log`
  /// Line of origin.begin (1-based) when lowering recorded it, else 0: the
  /// backends' comments need it for every rule, and finding it costs more.
  std::uint32_t line = 0;
  /// `>> label "text"`: the text is Policy::labels[label_id - 1] (0: no
  /// label). Rules with the same text have the same number, numbered from 1
  /// in order of first use, so a backend can keep a table by label.
  std::uint32_t label_id = 0;
  std::uint32_t source_rule = 0;  ///< index of the source rule (0-based, across includes)
  Match match;
  diag::Location origin;  ///< span of the whole source rule
  /// Column of origin.begin (1-based) when `line` is recorded, else 0: with
  /// it, a comment never reads the source text.
  std::uint32_t column = 0;
  /// True when the rule names no explicit interface, direction, family,
  /// protocol, address or port: `block`, `pass out`, ...
  bool matches_everything() const;
};
static_assert(sizeof(Rule) == 256, "a new field in ir::Rule makes every pass over the rules read a fifth cache line");

/// The default verdict for one direction.
struct Default {
  Action action = Action::Pass;
  bool explicit_ = false;  ///< false: no `default` statement; pf's "pass what nothing matched"
  diag::Location origin;
};

/// A `require vpn ...` statement.
struct Requirement {
  std::string vpn;          ///< profile name
  std::string role;         ///< "client", "server" or "" (client)
  std::string via_in, via_out;  ///< `via IN:OUT`, empty for a host policy
  std::string on;           ///< `on IFACE`, empty for any
  std::optional<std::string> peer;  ///< `to ADDR`, textual
  std::optional<std::uint16_t> port;
  diag::Location origin;
};

/// One leg of a custom VPN profile (`vpn NAME = { tcp 1723, gre }`): the
/// client starts it towards the server; replies must come back.
struct VpnLeg {
  std::uint8_t protocol = 0;
  std::optional<std::uint16_t> port;  ///< destination port on the server side
  diag::Location origin;
};

struct VpnDefinition {
  std::string name;
  std::vector<VpnLeg> legs;
  diag::Location origin;
};

/// The whole normalised policy.
struct Policy {
  std::vector<Rule> rules;
  /// defaults[Direction::In], defaults[Direction::Out]
  std::array<Default, 2> defaults;
  /// Every interface name the policy mentions, in first-use order. A
  /// packet on any other interface has interface index interfaces.size().
  std::vector<std::string> interfaces;
  std::vector<Requirement> requirements;
  std::vector<VpnDefinition> vpns;
  /// Location of every source rule, indexed by Rule::source_rule.
  std::vector<diag::Location> source_rules;
  /// Source rules that lowered to no IR rule because their clauses contradict
  /// each other (`protocol tcp, protocol udp`); lint reports them.
  std::vector<std::uint32_t> empty_source_rules;
  /// The text of every label, raw (backends escape it): Rule::label_id k is labels[k - 1].
  std::vector<std::string> labels;

  const Default& default_for(Direction d) const { return defaults[static_cast<int>(d)]; }
  /// A rule's label text; empty when it has none.
  std::string_view label(const Rule& r) const {
    return r.label_id ? std::string_view(labels[r.label_id - 1]) : std::string_view();
  }
  /// Gives `r` the label `text` (a number of its own unless an equal text
  /// has one; a search of the labels, for policies built by hand: lowering
  /// numbers labels by their symbols).
  void set_label(Rule& r, std::string_view text);
  /// Index of an interface name for packets; interfaces.size() if unnamed.
  std::uint32_t interface_index(const std::string& name) const;
};

/// Formats an address of a family ("192.0.2.1", "2001:db8::1").
std::string format_address(Family f, U128 a);
/// Parses an address; nullopt when it is neither IPv4 nor IPv6.
std::optional<std::pair<Family, U128>> parse_address(const std::string& text);

}  // namespace rulec::ir
