// The rulec policy language as PEGTL 3.2 rules.
//
// Only lib/syntax/parser.cpp includes this file. GRAMMAR.md beside it is the
// readable summary, kept in step (a test parses every example in it).
//
// Padding convention: a rule consumes no blanks around itself; the rule that
// sequences two tokens puts `sp` (blanks and tabs, never a line end) between
// them. Line ends end statements, except inside `{ ... }`, where line ends and
// comments count as blanks (`lsp`). Error points are named after what is
// expected there; their messages are in one table, `errors`, at the bottom.
// There is no recursion anywhere, so no input can exhaust the stack.
#pragma once

#include <tao/pegtl.hpp>

namespace rulec::grammar {

namespace pegtl = tao::pegtl;
using namespace pegtl;

// ---- lexical -------------------------------------------------------------

struct sp : star<blank> {};
struct comment : seq<one<'#'>, until<at<eolf>, any>> {};
struct line_end : seq<sp, opt<comment>, eolf> {};
/// Padding inside braces: blanks, line ends and comments.
struct lsp : star<sor<space, comment>> {};

struct word_char : ranges<'a', 'z', 'A', 'Z', '0', '9', '_', '_', '-', '-', '.', '.'> {};
/// A keyword: the letters, not followed by a word character (so `passive` is no `pass`).
template <typename Keyword>
struct kw : seq<Keyword, not_at<word_char>> {};
#define RULEC_KW(text) kw<TAO_PEGTL_STRING(text)>

struct kw_pass : RULEC_KW("pass") {};
struct kw_block : RULEC_KW("block") {};
struct kw_reject : RULEC_KW("reject") {};
struct kw_in : RULEC_KW("in") {};
struct kw_out : RULEC_KW("out") {};
struct kw_on : RULEC_KW("on") {};
struct kw_protocol : RULEC_KW("protocol") {};
struct kw_from : RULEC_KW("from") {};
struct kw_to : RULEC_KW("to") {};
struct kw_port : RULEC_KW("port") {};
struct kw_service : RULEC_KW("service") {};
struct kw_family : RULEC_KW("family") {};
struct kw_icmp_type : RULEC_KW("icmp-type") {};
struct kw_any : RULEC_KW("any") {};
struct kw_state : RULEC_KW("state") {};
struct kw_done : RULEC_KW("done") {};
struct kw_log : RULEC_KW("log") {};
struct kw_label : RULEC_KW("label") {};
struct kw_default : RULEC_KW("default") {};
struct kw_include : RULEC_KW("include") {};
struct kw_require : RULEC_KW("require") {};
struct kw_vpn : RULEC_KW("vpn") {};
struct kw_via : RULEC_KW("via") {};

/// A name: lists, services, interfaces, protocol and port names.
struct name : seq<ranges<'a', 'z', 'A', 'Z', '_', '_'>, star<word_char>> {};
struct number : plus<digit> {};
/// An IPv4 or IPv6 address token, checked by the action: a run of hex
/// digits, dots and colons with at least one dot or colon, optionally /N.
struct address_text : seq<star<xdigit>, one<'.', ':'>, star<sor<xdigit, one<'.', ':'>>>> {};
struct prefix_length : number {};
struct address : seq<address_text, opt<one<'/'>, must<prefix_length>>> {};

struct escaped_char : one<'"', '\\'> {};
struct string_char : sor<seq<one<'\\'>, must<escaped_char>>, not_one<'"', '\\', '\r', '\n'>> {};
struct string_body : star<string_char> {};
struct string_close : one<'"'> {};
struct quoted : seq<one<'"'>, string_body, must<string_close>> {};

// ---- values --------------------------------------------------------------

struct list_ref_name : name {};
struct ref : seq<one<'$'>, must<list_ref_name>> {};
struct any_value : kw_any {};
struct word : name {};
struct number_high : number {};
struct number_range : seq<number, opt<one<'-'>, must<number_high>>, not_at<word_char>> {};

/// Lists are flat: `{` values `}`, a trailing comma allowed; a `{` inside a list is an error, not a nesting.
struct no_nested_list : not_at<one<'{'>> {};
template <typename Value, typename Expected>
struct list_of : seq<one<'{'>, lsp, must<Expected>, star<lsp, opt<one<','>, lsp>, Value>, lsp, opt<one<','>, lsp>,
                     must<no_nested_list>, must<one<'}'>>> {};

struct any_list_value : sor<ref, any_value, address, number_range, word> {};
struct value_expected : any_list_value {};
struct generic_list : list_of<any_list_value, value_expected> {};

struct port_value : sor<ref, number_range, word> {};
struct port_expected : port_value {};
struct port_list : list_of<port_value, port_expected> {};
struct ports : sor<port_list, port_value> {};

struct address_value : sor<ref, any_value, address> {};
struct address_expected : address_value {};
struct address_list : list_of<address_value, address_expected> {};
struct addresses : sor<address_list, address_value> {};

struct protocol_value : sor<ref, number_range, word> {};
struct protocol_expected : protocol_value {};
struct protocol_list : list_of<protocol_value, protocol_expected> {};
struct protocols : sor<protocol_list, protocol_value> {};

// ---- clauses -------------------------------------------------------------

struct ports_after_port : ports {};
struct port_part : seq<kw_port, sp, must<ports_after_port>> {};
struct addresses_end : success {};
struct addresses_or_port : sor<port_part, seq<addresses, addresses_end, opt<sp, port_part>>> {};
struct endpoint : addresses_or_port {};

struct protocols_after_protocol : protocols {};
struct protocol_clause : seq<kw_protocol, sp, must<protocols_after_protocol>> {};
struct from_clause : seq<kw_from, sp, must<endpoint>> {};
struct to_clause : seq<kw_to, sp, must<endpoint>> {};
struct service_value : name {};
struct service_expected : service_value {};
struct service_names : sor<list_of<service_value, service_expected>, service_value> {};
struct service_clause : seq<kw_service, sp, must<service_names>> {};
struct family_name : sor<RULEC_KW("inet6"), RULEC_KW("inet")> {};
struct family_clause : seq<kw_family, sp, must<family_name>> {};
struct icmp_types : protocols {};
struct icmp_type_clause : seq<kw_icmp_type, sp, must<icmp_types>> {};

struct clause_start : success {};
struct clause : seq<clause_start, sor<protocol_clause, from_clause, to_clause, service_clause, family_clause, icmp_type_clause>> {};
struct clause_after_comma : clause {};
struct clauses : seq<clause, star<sp, sor<seq<one<','>, sp, must<clause_after_comma>>, clause>>> {};

// ---- options -------------------------------------------------------------

struct label_text : quoted {};
struct label_option : seq<kw_label, sp, must<label_text>> {};
struct option : sor<kw_state, kw_done, kw_log, label_option> {};
struct option_expected : option {};
struct option_after_comma : option {};
struct options : seq<string<'>', '>'>, sp, must<option_expected>,
                     star<sp, sor<seq<one<','>, sp, must<option_after_comma>>, option>>> {};

// ---- statements ----------------------------------------------------------

/// Marks where a statement's text ends (before trailing blanks and comment).
struct end_mark : success {};

struct action : sor<kw_pass, kw_block, kw_reject> {};
struct direction : sor<kw_in, kw_out> {};
struct interface_name : name {};
struct on_interface : seq<kw_on, sp, must<interface_name>> {};
struct rule_end : line_end {};
/// A comma after `on IFACE` is allowed (`pass in on lan, from $office`); fmt drops it.
struct rule : seq<action, sp, opt<direction, sp>, opt<on_interface, sp, opt<one<','>, sp>>, opt<clauses, sp>,
                  opt<options>, end_mark,
                  must<rule_end>> {};

struct default_action : action {};
struct default_end : line_end {};
struct default_stmt : seq<kw_default, sp, must<default_action>, sp, opt<direction>, end_mark, must<default_end>> {};

struct include_path : quoted {};
struct include_end : line_end {};
struct include_stmt : seq<kw_include, sp, must<include_path>, end_mark, must<include_end>> {};

struct vpn_name : name {};
struct require_vpn : kw_vpn {};
struct role : sor<RULEC_KW("client"), RULEC_KW("server")> {};
struct via_in : name {};
struct via_colon : one<':'> {};
struct via_out : name {};
struct via_part : seq<kw_via, sp, must<via_in>, must<via_colon>, must<via_out>> {};
struct require_on : seq<kw_on, sp, must<interface_name>> {};
struct peer_address : address {};
struct require_to : seq<kw_to, sp, must<peer_address>> {};
struct peer_port : number {};
struct require_port : seq<kw_port, sp, must<peer_port>> {};
struct require_part : sor<role, via_part, require_on, require_to, require_port> {};
struct require_end : line_end {};
struct require_stmt : seq<kw_require, sp, must<require_vpn>, sp, must<vpn_name>,
                          star<sp, require_part>, end_mark, must<require_end>> {};

/// A leg of a service or VPN definition: `tcp 1723`, `udp port { 500, 4500 }`, `gre`.
struct leg_protocol : protocol_value {};
struct leg_start : success {};
struct leg : seq<leg_start, leg_protocol, opt<sp, opt<kw_port, sp>, ports>> {};
struct leg_expected : leg {};
struct legs : list_of<leg, leg_expected> {};
struct definition_name : name {};
struct equals : one<'='> {};
struct legs_expected : legs {};
struct service_end : line_end {};
struct service_def : seq<kw_service, sp, must<definition_name>, sp, must<equals>, sp, must<legs_expected>, end_mark,
                         must<service_end>> {};
struct vpn_def : seq<kw_vpn, sp, must<definition_name>, sp, must<equals>, sp, must<legs_expected>, end_mark,
                     must<service_end>> {};

struct list_name : name {};
struct list_values : sor<generic_list, any_list_value> {};
struct list_values_expected : list_values {};
struct list_end : line_end {};
struct list_def : seq<list_name, sp, one<'='>, sp, must<list_values_expected>, end_mark, must<list_end>> {};

struct statement_expected : failure {};
struct statement : sor<rule, default_stmt, include_stmt, require_stmt, service_def, vpn_def, list_def,
                       raise<statement_expected>> {};
struct blank_line : seq<sp, opt<comment>, eol> {};
struct last_line : seq<sp, opt<comment>, eof> {};
struct statement_start : seq<sp, not_at<eof>, not_at<one<'#'>>, not_at<eol>> {};
/// A whole file; the parser driver restarts it after an error, at the next statement.
struct file : seq<star<sor<blank_line, seq<statement_start, statement>>>, must<last_line>> {};

// ---- error messages ------------------------------------------------------

struct errors {
  template <typename Rule>
  static constexpr const char* message = nullptr;
};

#define RULEC_ERROR(R, text) \
  template <>                \
  inline constexpr const char* errors::message<R> = text

RULEC_ERROR(prefix_length, "expected a prefix length after '/'");
RULEC_ERROR(string_close, "unterminated string: expected '\"' before the end of the line");
RULEC_ERROR(escaped_char, "unknown escape in string: only \\\" and \\\\ are allowed");
RULEC_ERROR(list_ref_name, "expected a list name after '$'");
RULEC_ERROR(number_high, "expected the upper end of the range after '-'");
RULEC_ERROR(value_expected, "expected an address, number, name or $name in the list");
RULEC_ERROR(port_expected, "expected a port number or range in the list");
RULEC_ERROR(address_expected, "expected an address, 'any' or $name in the list");
RULEC_ERROR(protocol_expected, "expected a protocol name or number in the list");
RULEC_ERROR(no_nested_list, "lists cannot be nested: put the inner list's values in the outer list");
RULEC_ERROR(one<'}'>, "expected ',' or '}' to continue or close the list");
RULEC_ERROR(ports_after_port, "expected a port number or range after 'port'");
RULEC_ERROR(endpoint, "expected an address, 'any', $name, a { list } or 'port'");
RULEC_ERROR(protocols_after_protocol, "expected a protocol name, number, { list } or $name after 'protocol'");
RULEC_ERROR(service_expected, "expected a service name in the list");
RULEC_ERROR(service_names, "expected a service name or { list } after 'service'");
RULEC_ERROR(family_name, "expected 'inet' or 'inet6' after 'family'");
RULEC_ERROR(icmp_types, "expected an ICMP type name or number after 'icmp-type'");
RULEC_ERROR(clause_after_comma, "expected a clause after ',' (protocol, from, to, service, family, icmp-type)");
RULEC_ERROR(label_text, "expected a quoted label text after 'label'");
RULEC_ERROR(option_expected, "expected an option after '>>' (state, done, log, label)");
RULEC_ERROR(option_after_comma, "expected an option after ',' (state, done, log, label)");
RULEC_ERROR(interface_name, "expected an interface name after 'on'");
RULEC_ERROR(rule_end,
            "expected a clause (protocol, from, to, service, family, icmp-type), '>>' or the end of the line");
RULEC_ERROR(default_action, "expected 'pass', 'block' or 'reject' after 'default'");
RULEC_ERROR(default_end, "expected 'in', 'out' or the end of the line");
RULEC_ERROR(include_path, "expected a quoted file name after 'include'");
RULEC_ERROR(include_end, "expected the end of the line after the include file name");
RULEC_ERROR(require_vpn, "expected 'vpn' after 'require'");
RULEC_ERROR(vpn_name, "expected a VPN profile name");
RULEC_ERROR(via_in, "expected the inside interface after 'via' (via lan:wan)");
RULEC_ERROR(via_colon, "expected ':' between the two interfaces (via lan:wan)");
RULEC_ERROR(via_out, "expected the outside interface after ':' (via lan:wan)");
RULEC_ERROR(peer_address, "expected a peer address after 'to'");
RULEC_ERROR(peer_port, "expected a port number after 'port'");
RULEC_ERROR(require_end, "expected client, server, via, on, to, port or the end of the line");
RULEC_ERROR(definition_name, "expected a name to define");
RULEC_ERROR(equals, "expected '=' after the name");
RULEC_ERROR(legs_expected, "expected a { list } of legs such as { tcp 1723, gre }");
RULEC_ERROR(leg_expected, "expected a leg: a protocol and optional ports, such as 'udp 500'");
RULEC_ERROR(service_end, "expected the end of the line after the list of legs");
RULEC_ERROR(list_values_expected, "expected a value or { list } after '='");
RULEC_ERROR(list_end, "expected the end of the line after the list");
RULEC_ERROR(last_line, "expected a statement or the end of the file");
RULEC_ERROR(statement_expected,
            "expected a statement: a rule (pass, block, reject), default, include, require, service, vpn or name = { ... }");

#undef RULEC_ERROR

template <typename Rule>
using control = must_if<errors, normal, false>::control<Rule>;

}  // namespace rulec::grammar
