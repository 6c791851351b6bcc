// PEGTL actions that build the flat syntax tree, and the driver that restarts
// the grammar after each error at the next statement.
#include "syntax/parser.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "../../grammar/rulec_grammar.hpp"
#include "support/page_mapper.hpp"
#include "syntax/two_threads.hpp"

namespace rulec::syntax {
namespace {

namespace pegtl = tao::pegtl;
namespace g = rulec::grammar;
using ast::Clause;
using ast::Statement;
using ast::Value;

constexpr std::uint32_t kNone = UINT32_MAX;
constexpr std::size_t kMaxErrorsPerFile = 50;
/// How far ahead of each array's end pages are mapped in a large file.
constexpr std::size_t kMapWindow = std::size_t(1) << 20;
/// Files from this size on have their arrays mapped ahead (a thread is not free).
constexpr std::size_t kMapFrom = std::size_t(1) << 20;

/// Everything the actions need while one file is parsed.
struct Builder {
  ast::Policy& p;
  std::uint32_t file;
  const char* base;

  // the statement being built
  std::uint32_t stmt_begin = kNone, stmt_end = 0;
  /// Lines are counted as far as `counted` (a statement start): `line` is
  /// the line there, `line_start` where that line starts. A builder that
  /// starts inside a file (two_threads.cpp) counts from 1 at its start,
  /// `origin`.
  std::uint32_t counted = 0, line = 1, line_start = 0, origin = 0;
  std::uint32_t first_clause = 0, first_value = 0, first_address = 0;
  ast::Action action = ast::Action::Pass;
  ast::Direction direction = ast::Direction::Both;
  std::uint8_t options = 0;
  std::array<std::uint32_t, 4> option_at{};
  std::uint32_t label = 0, iface = 0, iface_begin = 0, name = 0, name_begin = 0;
  std::uint32_t clause_start = 0, addresses_end = kNone;
  ast::Requirement req;
  std::string scratch;

  /// A large file's arrays are mapped ahead of their ends by another thread.
  support::PageMapper* mapper = nullptr;
  std::uint32_t until_mapping = 0;  ///< statements until the next look at the arrays
  support::MapAhead<Statement> statements_ahead{kMapWindow};
  support::MapAhead<Clause> clauses_ahead{kMapWindow};
  support::MapAhead<Value> values_ahead{kMapWindow};
  support::MapAhead<std::array<std::uint8_t, 16>> addresses_ahead{kMapWindow};

  void map_ahead() {
    statements_ahead.keep_up(*mapper, p.statements);
    clauses_ahead.keep_up(*mapper, p.clauses);
    values_ahead.keep_up(*mapper, p.values);
    addresses_ahead.keep_up(*mapper, p.addresses);
    until_mapping = 256;
  }

  template <typename Input>
  std::uint32_t offset(const Input& in) const {
    return static_cast<std::uint32_t>(in.begin() - base);
  }
  template <typename Input>
  std::uint32_t end_offset(const Input& in) const {
    return static_cast<std::uint32_t>(in.end() - base);
  }

  /// Counts the lines up to `at`.
  void lines_to(std::uint32_t at) {
    if (at < counted) counted = line_start = origin, line = 1;  // statements come in order; a safety net
    count_lines(base, base + counted, base + at, line, line_start);
    counted = at;
  }

  void begin_statement(std::uint32_t at) {
    stmt_begin = at;
    lines_to(at);
    first_clause = static_cast<std::uint32_t>(p.clauses.size());
    first_value = static_cast<std::uint32_t>(p.values.size());
    first_address = static_cast<std::uint32_t>(p.addresses.size());
    action = ast::Action::Pass;
    direction = ast::Direction::Both;
    options = 0;
    option_at = {};
    label = iface = iface_begin = name = name_begin = 0;
    req = ast::Requirement{};
  }

  /// Drops whatever the failed statement had added.
  void abandon() {
    if (stmt_begin == kNone) return;
    p.clauses.resize(first_clause);
    p.values.resize(first_value);
    p.addresses.resize(first_address);
  }

  Statement& finish(Statement::Kind kind) {
    Statement s;
    s.kind = kind;
    s.action = action;
    s.direction = direction;
    s.options = options;
    s.option_at = option_at;
    s.file = file;
    s.begin = stmt_begin;
    s.end = stmt_end;
    s.line = line;
    s.column = stmt_begin - line_start + 1;
    s.name = name;
    s.name_begin = name_begin;
    s.iface = iface;
    s.iface_begin = iface_begin;
    s.label = label;
    s.first_clause = first_clause;
    s.clause_count = static_cast<std::uint32_t>(p.clauses.size()) - first_clause;
    s.first_value = first_value;
    s.value_count = static_cast<std::uint32_t>(p.values.size()) - first_value;
    p.statements.push_back(s);
    p.includes += kind == Statement::Kind::Include;
    if (s.is_definition()) p.definitions.push_back(static_cast<std::uint32_t>(p.statements.size() - 1));
    stmt_begin = kNone;
    if (mapper && --until_mapping == 0) map_ahead();
    return p.statements.back();
  }

  Value& push(Value::Kind kind, std::uint32_t begin, std::uint32_t end) {
    Value v;
    v.kind = kind;
    v.begin = begin;
    v.end = end;
    p.values.push_back(v);
    return p.values.back();
  }

  void push_clause(Clause::Kind kind, std::uint32_t begin, std::uint32_t end) {
    Clause c;
    c.kind = kind;
    c.begin = begin;
    c.end = end;
    auto now = static_cast<std::uint32_t>(p.values.size());
    c.first_value = clause_start;
    if (kind == Clause::Kind::From || kind == Clause::Kind::To) {
      std::uint32_t mid = addresses_end == kNone ? clause_start : addresses_end;
      c.value_count = mid - clause_start;
      c.first_port = mid;
      c.port_count = now - mid;
    } else if (kind == Clause::Kind::Leg) {
      c.value_count = 1;
      c.first_port = clause_start + 1;
      c.port_count = now - clause_start - 1;
    } else {
      c.value_count = now - clause_start;
      c.first_port = now;
    }
    p.clauses.push_back(c);
  }

  /// The text between the quotes of a matched string, with escapes removed.
  std::uint32_t unquote(std::string_view quoted) {
    scratch.clear();
    for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
      if (quoted[i] == '\\' && i + 2 < quoted.size()) ++i;
      scratch.push_back(quoted[i]);
    }
    return p.symbols.intern(scratch);
  }
};

std::uint32_t parse_number(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) {
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > UINT32_MAX) return UINT32_MAX;  // saturate: the range check reports it
  }
  return static_cast<std::uint32_t>(v);
}

/// A dotted quad into `out` (network order), with inet_pton's rules: four
/// decimal parts of 0-255 without leading zeros. False when it is not one.
bool parse_ipv4(std::string_view text, std::uint8_t* out) {
  int parts = 0;
  unsigned part = 0;
  bool digit = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (digit && part == 0) return false;  // a leading zero
      part = part * 10 + static_cast<unsigned>(c - '0');
      if (part > 255) return false;
      if (!digit && ++parts > 4) return false;
      digit = true;
    } else if (c == '.' && digit && parts < 4) {
      out[parts - 1] = static_cast<std::uint8_t>(part);
      part = 0;
      digit = false;
    } else {
      return false;
    }
  }
  if (parts != 4 || !digit) return false;
  out[3] = static_cast<std::uint8_t>(part);
  return true;
}

template <typename Input>
void push_address(Builder& b, const Input& in) {
  std::string_view text(in.begin(), in.size());
  auto slash = text.find('/');
  std::string_view host = text.substr(0, slash);
  Value& v = b.push(Value::Kind::Address, b.offset(in), b.end_offset(in));
  v.lo = static_cast<std::uint32_t>(b.p.addresses.size());
  auto& bytes = b.p.addresses.emplace_back();
  bool v6 = host.find(':') != std::string_view::npos;
  bool valid = false;
  if (!v6) {
    valid = parse_ipv4(host, bytes.data());
  } else if (host.size() <= 45) {
    char buf[46];  // inet_pton wants a terminated string
    std::memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';
    valid = inet_pton(AF_INET6, buf, bytes.data()) == 1;
  }
  if (!valid)
    throw pegtl::parse_error(std::string("invalid ") + (v6 ? "IPv6" : "IPv4") + " address '" + std::string(host) + "'",
                             in);
  v.family = v6 ? 6 : 4;
  v.prefix = v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    std::uint32_t len = parse_number(text.substr(slash + 1));
    if (len > v.prefix)
      throw pegtl::parse_error("prefix length /" + std::string(text.substr(slash + 1)) + " is too long for an " +
                                   (v.family == 4 ? "IPv4 address (at most /32)" : "IPv6 address (at most /128)"),
                               in);
    v.prefix = static_cast<std::uint8_t>(len);
    v.has_prefix = true;
  }
}

template <typename Rule>
struct action : pegtl::nothing<Rule> {};

template <>
struct action<g::statement_start> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.begin_statement(b.end_offset(in));
  }
};

template <>
struct action<g::end_mark> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    std::uint32_t end = b.offset(in);
    while (end > b.stmt_begin && (b.base[end - 1] == ' ' || b.base[end - 1] == '\t')) --end;
    b.stmt_end = end;
  }
};

template <ast::Action A>
struct set_action {
  static void apply0(Builder& b) { b.action = A; }
};
template <>
struct action<g::kw_pass> : set_action<ast::Action::Pass> {};
template <>
struct action<g::kw_block> : set_action<ast::Action::Block> {};
template <>
struct action<g::kw_reject> : set_action<ast::Action::Reject> {};

template <>
struct action<g::kw_in> {
  static void apply0(Builder& b) { b.direction = ast::Direction::In; }
};
template <>
struct action<g::kw_out> {
  static void apply0(Builder& b) { b.direction = ast::Direction::Out; }
};

template <ast::Option O, int Index>
struct set_option {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.options |= O;
    b.option_at[Index] = b.offset(in);
  }
};
template <>
struct action<g::kw_state> : set_option<ast::OptState, 0> {};
template <>
struct action<g::kw_done> : set_option<ast::OptDone, 1> {};
template <>
struct action<g::kw_log> : set_option<ast::OptLog, 2> {};
template <>
struct action<g::kw_label> : set_option<ast::OptLabel, 3> {};

template <>
struct action<g::label_text> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.label = b.unquote(in.string_view());
  }
};

template <>
struct action<g::include_path> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.name = b.unquote(in.string_view());
    b.name_begin = b.offset(in);
  }
};

template <>
struct action<g::interface_name> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.iface = b.p.symbols.intern(in.string_view());
    b.iface_begin = b.offset(in);
  }
};

struct set_name {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.name = b.p.symbols.intern(in.string_view());
    b.name_begin = b.offset(in);
  }
};
template <>
struct action<g::vpn_name> : set_name {};
template <>
struct action<g::definition_name> : set_name {};
template <>
struct action<g::list_name> : set_name {};

template <>
struct action<g::role> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.req.role = b.p.symbols.intern(in.string_view());
  }
};
template <>
struct action<g::via_in> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.req.via_in = b.p.symbols.intern(in.string_view());
  }
};
template <>
struct action<g::via_out> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.req.via_out = b.p.symbols.intern(in.string_view());
  }
};
template <>
struct action<g::require_on> {
  static void apply0(Builder& b) { b.req.on = b.iface; }
};

// ---- values ----

template <>
struct action<g::address> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    push_address(b, in);
  }
};
template <>
struct action<g::peer_address> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    push_address(b, in);
    b.req.peer_value = static_cast<std::uint32_t>(b.p.values.size() - 1);
  }
};

template <>
struct action<g::number_range> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    std::string_view text = in.string_view();
    auto dash = text.find('-');
    Value& v = b.push(Value::Kind::Number, b.offset(in), b.end_offset(in));
    v.lo = parse_number(text.substr(0, dash));
    v.hi = dash == std::string_view::npos ? v.lo : parse_number(text.substr(dash + 1));
  }
};
template <>
struct action<g::peer_port> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    Value& v = b.push(Value::Kind::Number, b.offset(in), b.end_offset(in));
    v.lo = v.hi = parse_number(in.string_view());
    b.req.port_value = static_cast<std::uint32_t>(b.p.values.size() - 1);
  }
};

template <Value::Kind K, std::size_t Skip>
struct push_named {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    Value& v = b.push(K, b.offset(in), b.end_offset(in));
    v.sym = b.p.symbols.intern(in.string_view().substr(Skip));
  }
};
template <>
struct action<g::ref> : push_named<Value::Kind::Ref, 1> {};
template <>
struct action<g::word> : push_named<Value::Kind::Word, 0> {};
template <>
struct action<g::service_value> : push_named<Value::Kind::Word, 0> {};
// The first element of a list is matched as its `_expected` rule (for the
// error message); PEGTL picks actions by the exact rule type, so it needs its own.
template <>
struct action<g::service_expected> : action<g::service_value> {};
template <>
struct action<g::family_name> : push_named<Value::Kind::Word, 0> {};
template <>
struct action<g::any_value> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.push(Value::Kind::Any, b.offset(in), b.end_offset(in));
  }
};

// ---- clauses ----

template <>
struct action<g::clause_start> {
  static void apply0(Builder& b) {
    b.clause_start = static_cast<std::uint32_t>(b.p.values.size());
    b.addresses_end = kNone;
  }
};
template <>
struct action<g::leg_start> : action<g::clause_start> {};
template <>
struct action<g::addresses_end> {
  static void apply0(Builder& b) { b.addresses_end = static_cast<std::uint32_t>(b.p.values.size()); }
};

template <Clause::Kind K>
struct push_clause {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    b.push_clause(K, b.offset(in), b.end_offset(in));
  }
};
template <>
struct action<g::protocol_clause> : push_clause<Clause::Kind::Protocol> {};
template <>
struct action<g::from_clause> : push_clause<Clause::Kind::From> {};
template <>
struct action<g::to_clause> : push_clause<Clause::Kind::To> {};
template <>
struct action<g::service_clause> : push_clause<Clause::Kind::Service> {};
template <>
struct action<g::family_clause> : push_clause<Clause::Kind::Family> {};
template <>
struct action<g::icmp_type_clause> : push_clause<Clause::Kind::IcmpType> {};
template <>
struct action<g::leg> : push_clause<Clause::Kind::Leg> {};
template <>
struct action<g::leg_expected> : action<g::leg> {};

// ---- statements ----

template <Statement::Kind K>
struct finish_statement {
  static void apply0(Builder& b) { b.finish(K); }
};
template <>
struct action<g::rule> : finish_statement<Statement::Kind::Rule> {};
template <>
struct action<g::default_stmt> : finish_statement<Statement::Kind::Default> {};
template <>
struct action<g::include_stmt> : finish_statement<Statement::Kind::Include> {};
template <>
struct action<g::service_def> : finish_statement<Statement::Kind::Service> {};
template <>
struct action<g::vpn_def> : finish_statement<Statement::Kind::Vpn> {};
template <>
struct action<g::list_def> : finish_statement<Statement::Kind::List> {};
template <>
struct action<g::require_stmt> {
  static void apply0(Builder& b) {
    Statement& s = b.finish(Statement::Kind::Require);
    s.extra = static_cast<std::uint32_t>(b.p.requirements.size());
    b.p.requirements.push_back(b.req);
  }
};

// ---- layout, for the formatter ----

template <>
struct action<g::comment> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    ast::Comment c;
    c.file = b.file;
    c.begin = b.offset(in);
    c.end = b.end_offset(in);
    std::uint32_t i = c.begin;
    while (i > 0 && (b.base[i - 1] == ' ' || b.base[i - 1] == '\t')) --i;
    c.own_line = i == 0 || b.base[i - 1] == '\n';
    b.p.comments.push_back(c);
  }
};
template <>
struct action<g::blank_line> {
  template <typename Input>
  static void apply(const Input& in, Builder& b) {
    std::string_view t = in.string_view();
    if (t.find('#') == std::string_view::npos) b.p.blank_lines.emplace_back(b.file, b.offset(in));
  }
};

/// Where to go on after an error at `at` in a statement that began at
/// `begin`: past the list the error is in, if any, then to the next line.
std::size_t recovery_point(const std::string& text, std::size_t begin, std::size_t at) {
  if (begin <= at) {
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = begin; i < at && i < text.size(); ++i) {
      char c = text[i];
      if (c == '"') quoted = !quoted;
      if (quoted) continue;
      if (c == '#') {  // a comment runs to the end of its line
        while (i < at && text[i] != '\n') ++i;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}') {
        depth = std::max(depth - 1, 0);
      }
    }
    if (depth > 0) {
      auto close = text.find('}', at);
      if (close != std::string::npos) at = close;
    }
  }
  auto nl = text.find('\n', at);
  return nl == std::string::npos ? text.size() : nl + 1;
}

/// Parses [begin, end) of a file into `tree` in one go, with its arrays
/// mapped ahead by `mapper` when given; false at the first syntax error.
bool parse_part(ast::Policy& tree, std::uint32_t file_id, const std::string& text, std::size_t begin,
                std::size_t end, support::PageMapper* mapper) {
  Builder b{tree, file_id, text.data()};
  b.origin = b.counted = b.line_start = static_cast<std::uint32_t>(begin);  // its lines counted from 1 here
  b.mapper = mapper;
  if (mapper) b.map_ahead();
  pegtl::memory_input<pegtl::tracking_mode::lazy, pegtl::eol::lf_crlf> in(text.data() + begin, text.data() + end, "");
  try {
    pegtl::parse<g::file, action, g::control>(in, b);
    return true;
  } catch (const pegtl::parse_error&) {
    return false;
  }
}

}  // namespace

void count_lines(const char* base, const char* from, const char* end, std::uint32_t& line,
                 std::uint32_t& line_start) {
  while (from < end) {
    from = static_cast<const char*>(std::memchr(from, '\n', static_cast<std::size_t>(end - from)));
    if (!from) break;
    ++line;
    ++from;
    line_start = static_cast<std::uint32_t>(from - base);
  }
}

void reserve_for(ast::Policy& policy, std::size_t bytes) {
  policy.statements.reserve(bytes / 24 + 16);
  policy.clauses.reserve(bytes / 16 + 16);
  policy.values.reserve(bytes / 10 + 16);
  policy.addresses.reserve(bytes / 32 + 16);
}

void parse_text(ast::Policy& policy, const diag::SourceMap& sources, std::uint32_t file_id, diag::Sink& sink) {
  const std::string& text = sources.file(file_id).text();
  if (policy.statements.empty()) reserve_for(policy, text.size());  // a large file: touched only as used
  std::size_t cur = 0;  // where one thread starts: after what two threads parsed without an error
  if (text.size() >= two_threads_from) cur = parse_on_two_threads(policy, file_id, text, parse_part);
  if (cur != 0 && cur == text.size()) return;
  Builder b{policy, file_id, text.data()};
  std::optional<support::PageMapper> mapper;
  if (text.size() >= kMapFrom) {
    b.mapper = &mapper.emplace();
    b.map_ahead();
  }
  std::size_t errors = 0;
  while (cur <= text.size()) {
    pegtl::memory_input<pegtl::tracking_mode::lazy, pegtl::eol::lf_crlf> in(text.data() + cur,
                                                                             text.data() + text.size(), "");
    b.stmt_begin = kNone;
    try {
      pegtl::parse<g::file, action, g::control>(in, b);
      return;
    } catch (const pegtl::parse_error& e) {
      std::size_t at = cur + (e.positions().empty() ? 0 : e.positions().front().byte);
      at = std::min(at, text.size());
      std::uint32_t end = static_cast<std::uint32_t>(std::min(at + 1, text.size()));
      sink.add({diag::Severity::Error, "RC100", std::string(e.message()),
                {file_id, static_cast<std::uint32_t>(at), end}});
      b.abandon();
      if (++errors >= kMaxErrorsPerFile) {
        sink.add({diag::Severity::Error, "RC101",
                  "too many syntax errors in this file; stopping here",
                  {file_id, static_cast<std::uint32_t>(at), end}});
        return;
      }
      std::size_t begin = b.stmt_begin == kNone ? at : b.stmt_begin;
      cur = recovery_point(text, begin, at);
      if (cur >= text.size()) return;
    }
  }
}

}  // namespace rulec::syntax
