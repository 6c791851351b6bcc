// The syntax tree: what the parser builds, exactly as written.
//
// The tree owns all its data (strings live in a symbol table, never as views
// into the input), and every node carries the byte range it came from. To
// parse a million rules in well under a second and a few hundred bytes each,
// nodes are stored flat: a Policy holds arenas of statements, clauses and
// values, and a node refers to its children by index range. Helpers return
// spans over those ranges so callers never do index arithmetic.
#pragma once

#include <array>
#include <deque>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "diag/source.hpp"

namespace rulec::ast {

/// Interned strings: names, words, labels, paths. Id 0 is the empty string.
///
/// A million-rule policy interns a few words per rule, nearly all of them
/// already known (`tcp`, `lan`, `https`), so the lookup is an open-addressing
/// table of ids with a short hash, not a node-based map.
class Symbols {
 public:
  Symbols();
  std::uint32_t intern(std::string_view s);
  const std::string& str(std::uint32_t id) const { return strings_[id]; }
  std::size_t size() const { return strings_.size(); }

 private:
  static std::uint32_t hash(std::string_view s);
  std::uint32_t intern_in_table(std::string_view s);
  void grow();

  std::deque<std::string> strings_;  // stable addresses: str() references stay valid
  std::vector<std::uint32_t> hashes_;  ///< hash of each string, by id
  std::vector<std::uint32_t> slots_;   ///< id + 1, or 0 for a free slot; a power of two long
  /// Words of 1-8 bytes interned lately, by a hash of their bytes. Most
  /// words are the same few (`tcp`, `lan`, `https`): they are found here, in
  /// 4 KB that stay in cache, without a probe of the table, whose arrays (a
  /// million-rule policy has a hundred thousand labels) do not.
  struct Recent {
    std::uint64_t bytes = 0;
    std::uint32_t length = 0, id = 0;
  };
  std::array<Recent, 256> recent_{};
};

/// One value as written: an address, a number or range, a word, `$name`, `any`.
/// Whether a number is a port, a protocol or an ICMP type depends on where it
/// stands; the semantic stage decides.
struct Value {
  enum class Kind : std::uint8_t { Any, Address, Number, Word, Ref };
  Kind kind = Kind::Any;
  std::uint8_t family = 4;    ///< Address: 4 or 6
  std::uint8_t prefix = 32;   ///< Address: prefix length (32 or 128 when absent)
  bool has_prefix = false;    ///< Address: written with "/N"
  std::uint32_t lo = 0, hi = 0;  ///< Number: inclusive range (lo == hi for one number); Address: lo indexes Policy::addresses
  std::uint32_t sym = 0;      ///< Word or Ref: the name
  std::uint32_t begin = 0, end = 0;  ///< byte range in the statement's file
};

/// One clause of a rule (`protocol tcp`, `to 192.0.2.1 port 80`), or one
/// leg of a service or VPN definition (`udp 500`).
struct Clause {
  enum class Kind : std::uint8_t { Protocol, From, To, Service, Family, IcmpType, Leg };
  Kind kind = Kind::Protocol;
  std::uint32_t begin = 0, end = 0;
  /// Protocol/IcmpType/Service/Family: the values; From/To: the addresses
  /// (none for `from port 80`); Leg: the protocol.
  std::uint32_t first_value = 0, value_count = 0;
  /// From/To/Leg: the ports, if any.
  std::uint32_t first_port = 0, port_count = 0;
};

enum class Action : std::uint8_t { Pass, Block, Reject };
enum class Direction : std::uint8_t { Both, In, Out };

/// A `require vpn ...` statement's parts.
struct Requirement {
  std::uint32_t role = 0;        ///< "client"/"server" or 0
  std::uint32_t via_in = 0, via_out = 0;
  std::uint32_t on = 0;
  std::uint32_t peer_value = UINT32_MAX;  ///< index into values, or none
  std::uint32_t port_value = UINT32_MAX;  ///< index into values, or none
};

/// One statement (one line, or several when a list spans lines).
struct Statement {
  enum class Kind : std::uint8_t { Rule, Default, List, Service, Vpn, Include, Require };
  Kind kind = Kind::Rule;
  Action action = Action::Pass;        ///< Rule, Default
  Direction direction = Direction::Both;  ///< Rule, Default
  std::uint8_t options = 0;            ///< Rule: Option bits
  std::uint32_t file = 0;              ///< source file id
  std::uint32_t begin = 0, end = 0;    ///< byte range, without the line end
  /// Line and column (1-based, in bytes) of `begin`, counted by the parser
  /// while the text is in the cache: a million rules' comments need them.
  std::uint32_t line = 0, column = 0;
  std::uint32_t name = 0;     ///< List/Service/Vpn: defined name; Include: path; Require: VPN name
  std::uint32_t name_begin = 0;  ///< where the name (or path) starts
  std::uint32_t iface = 0;    ///< Rule: `on IFACE` name or 0
  std::uint32_t iface_begin = 0;
  std::uint32_t label = 0;    ///< Rule: label text or 0
  /// Rule: clauses; Service/Vpn: legs.
  std::uint32_t first_clause = 0, clause_count = 0;
  /// List: the values.
  std::uint32_t first_value = 0, value_count = 0;
  /// Byte offsets of `state`, `done`, `log`, `label` (valid when the option bit is set).
  std::array<std::uint32_t, 4> option_at{};
  /// Require: index into Policy::requirements; Include: file id of the included file
  /// (UINT32_MAX when it could not be read).
  std::uint32_t extra = UINT32_MAX;
  /// A list or a service: what Policy::definitions indexes.
  bool is_definition() const { return kind == Kind::List || kind == Kind::Service; }
};

/// Option bits of Statement::options, in the order of Statement::option_at.
enum Option : std::uint8_t { OptState = 1, OptDone = 2, OptLog = 4, OptLabel = 8 };

/// A `#` comment, kept for the formatter and for suppression comments.
struct Comment {
  std::uint32_t file = 0;
  std::uint32_t begin = 0, end = 0;  ///< from '#' to the end of the line
  bool own_line = false;             ///< nothing but blanks before it on its line
};

/// A parsed policy: the root file and everything it includes, statements in
/// reading order (an included file's statements follow its include).
struct Policy {
  Symbols symbols;
  std::vector<Statement> statements;
  std::vector<Clause> clauses;
  std::vector<Value> values;
  /// The bytes of every address value, network order (IPv4 in the first 4); Value::lo indexes it.
  std::vector<std::array<std::uint8_t, 16>> addresses;
  std::vector<Requirement> requirements;
  std::vector<Comment> comments;
  /// Blank lines seen, as (file, byte offset of the line start); for the formatter.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> blank_lines;
  /// What the parser notes so that a million statements need not be read
  /// again to find a few: how many are includes (with none, the statements
  /// are in reading order as parsed), and which are definitions (lists and
  /// services), by index in `statements`, in order.
  std::uint32_t includes = 0;
  std::vector<std::uint32_t> definitions;

  std::span<const Clause> clauses_of(const Statement& s) const {
    return {clauses.data() + s.first_clause, s.clause_count};
  }
  std::span<const Value> values_of(const Statement& s) const {
    return {values.data() + s.first_value, s.value_count};
  }
  std::span<const Value> values_of(const Clause& c) const {
    return {values.data() + c.first_value, c.value_count};
  }
  std::span<const Value> ports_of(const Clause& c) const {
    return {values.data() + c.first_port, c.port_count};
  }
  const std::string& str(std::uint32_t sym) const { return symbols.str(sym); }
  const std::array<std::uint8_t, 16>& address_bytes(const Value& v) const { return addresses[v.lo]; }
  diag::Location loc(const Statement& s) const { return {s.file, s.begin, s.end}; }
  diag::Location loc(const Statement& s, const Clause& c) const { return {s.file, c.begin, c.end}; }
  diag::Location loc(const Statement& s, const Value& v) const { return {s.file, v.begin, v.end}; }
};

const char* to_string(Action a);
const char* to_string(Direction d);
const char* to_string(Clause::Kind k);

/// Appends `from` to `to` as if `from`'s text had been parsed into `to`
/// right after `to`'s own: `from`'s symbols are interned into `to`'s table in
/// id order (which gives the ids that one parse would have given them), and
/// every index into an array (clauses, values, addresses, requirements) is
/// moved past `to`'s elements. File ids and byte offsets are kept; the
/// statements' lines are moved on by `lines_before` (`from`'s text was
/// parsed with its lines counted from 1 where it starts).
void append(Policy& to, const Policy& from, std::uint32_t lines_before = 0);

/// An address value in canonical text: "192.0.2.0/24", "2001:db8::1".
std::string address_text(const Policy& p, const Value& v);

/// A structural dump without locations, one statement a line: what table
/// tests compare, and what `parse(fmt(x)) == parse(x)` is measured by.
std::string dump(const Policy& p, std::uint32_t file_id);

}  // namespace rulec::ast
