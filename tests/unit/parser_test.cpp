// Parser table tests (input -> structural dump), includes, and the
// formatter's promises: fmt is idempotent and parse(fmt(x)) == parse(x).
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "frontend.hpp"
#include "syntax/format.hpp"

namespace {

using rulec::ast::dump;

/// Parses one text (no includes followed) and returns the dump and the error count.
std::string parse_dump(const std::string& text, std::size_t* errors = nullptr) {
  rulec::ast::Policy p;
  rulec::diag::SourceMap sources;
  rulec::diag::Sink sink;
  auto id = sources.add("t.rules", text);
  rulec::syntax::parse_text(p, sources, id, sink);
  if (errors) *errors = sink.count(rulec::diag::Severity::Error);
  return dump(p, id);
}

std::string format_text(const std::string& text) {
  rulec::ast::Policy p;
  rulec::diag::SourceMap sources;
  rulec::diag::Sink sink;
  auto id = sources.add("t.rules", text);
  rulec::syntax::parse_text(p, sources, id, sink);
  REQUIRE_FALSE(sink.has_errors());
  return rulec::syntax::format_file(p, sources, id);
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  const char* input;
  const char* dump;
};

const Case kCases[] = {
    {"pass protocol tcp, to port 1723 >> state, done\n",
     "rule pass dir= protocol[word(tcp)] to[]port[num(1723)] state done\n"},
    {"pass protocol 47 >> done", "rule pass dir= protocol[num(47)] done\n"},
    {"#PPTP Virtual Private Network\n", ""},
    {"block out\n", "rule block dir=out\n"},
    {"pass in on lan >> state\n", "rule pass dir=in on=lan state\n"},
    {"pass in on lan, from any\n", "rule pass dir=in on=lan from[any]\n"},
    {"reject in on wan protocol { tcp, udp } from 192.0.2.0/24 port 1024-65535 to any port { ssh, 443 } >> log\n",
     "rule reject dir=in on=wan protocol[word(tcp) word(udp)] from[addr(192.0.2.0/24)]port[num(1024-65535)] "
     "to[any]port[word(ssh) num(443)] log\n"},
    {"block >> label \"a \\\"b\\\" \\\\ c\"\n", "rule block dir= label=\"a \\\"b\\\" \\\\ c\"\n"},
    {"web = { http, 8000-8080, $x }\n", "list \"web\" [word(http) num(8000-8080) ref(x)]\n"},
    {"web = {\n  http,   # plain\n  https,\n}\n", "list \"web\" [word(http) word(https)]\n"},
    {"service s = { tcp 8443, udp port { 1, 2 }, gre }\n",
     "service \"s\" leg[word(tcp)]port[num(8443)] leg[word(udp)]port[num(1) num(2)] leg[word(gre)]\n"},
    {"vpn v = { tcp 1 }\n", "vpn \"v\" leg[word(tcp)]port[num(1)]\n"},
    {"default reject out\ndefault block\n", "default reject dir=out\ndefault block dir=\n"},
    {"include \"x.rules\"\n", "include \"x.rules\"\n"},
    {"require vpn pptp client via lan:wan to 203.0.113.10 port 1723\n",
     "require pptp role=client via=lan:wan to=addr(203.0.113.10) port=num(1723)\n"},
    {"pass family inet6, protocol icmpv6, icmp-type { echo-request, 129 }, service { pptp, ssh }\n",
     "rule pass dir= family[word(inet6)] protocol[word(icmpv6)] icmp-type[word(echo-request) num(129)] "
     "service[word(pptp) word(ssh)]\n"},
    {"pass to 2001:DB8::1/128 port 53\n", "rule pass dir= to[addr(2001:db8::1/128)]port[num(53)]\n"},
    {"passive = 1\n", "list \"passive\" [num(1)]\n"},
    {"pass out\r\nblock in\r\n", "rule pass dir=out\nrule block dir=in\n"},
    {"\n\n   \n# only comments\n\t# and blanks", ""},
};

}  // namespace

TEST_CASE("parser: table of inputs and their dumps") {
  for (const Case& c : kCases) {
    std::size_t errors = 0;
    INFO(c.input);
    CHECK(parse_dump(c.input, &errors) == c.dump);
    CHECK(errors == 0);
  }
}

TEST_CASE("parser: one run reports every broken line and keeps the good ones") {
  std::size_t errors = 0;
  std::string d = parse_dump("pass to port\nblock out\npass from\npass in\nfoo\n", &errors);
  CHECK(errors == 3);
  CHECK(d == "rule block dir=out\nrule pass dir=in\n");
}

TEST_CASE("parser: keywords are whole words") {
  std::size_t errors = 0;
  CHECK(parse_dump("passive = 1\npass_x = 2\n", &errors) == "list \"passive\" [num(1)]\nlist \"pass_x\" [num(2)]\n");
  CHECK(errors == 0);
  parse_dump("passout\n", &errors);
  CHECK(errors == 1);
}

TEST_CASE("parser: an IPv4 address is valid exactly when inet_pton takes it, with the same bytes") {
  // The parser reads dotted quads itself; inet_pton is the reference.
  std::vector<std::string> texts = {"0.0.0.0", "255.255.255.255", "192.0.2.1", "256.1.1.1", "1.2.3", "1.2.3.4.5",
                                    "01.2.3.4", "1.02.3.4", "1.2.3.00", "1.2.3.0", "1..2.3", ".1.2.3", "1.2.3.",
                                    "1.2.3.4a", "a.b.c.d", "999.1.1.1", "1.2.3.255", "1.2.3.256", "1.2.3.1000"};
  const char* parts[] = {"0", "1", "9", "10", "00", "01", "99", "100", "199", "255", "256", "300", "1000", ""};
  for (const char* a : parts)
    for (const char* b : parts) texts.push_back(std::string(a) + "." + b + ".7." + b);
  for (const std::string& t : texts) {
    INFO(t);
    unsigned char want[4];
    bool valid = inet_pton(AF_INET, t.c_str(), want) == 1;
    rulec::ast::Policy p;
    rulec::diag::SourceMap sources;
    rulec::diag::Sink sink;
    auto id = sources.add("t.rules", "pass to " + t + "\n");
    rulec::syntax::parse_text(p, sources, id, sink);
    CHECK(sink.has_errors() == !valid);
    if (!valid) {
      // either the address action's message, or a grammar error before it (".1.2.3" is no address token)
      if (!sink.all().empty() && sink.all()[0].message.starts_with("invalid"))
        CHECK(sink.all()[0].message == "invalid IPv4 address '" + t + "'");
      continue;
    }
    REQUIRE(p.values.size() == 1);
    const auto& bytes = p.address_bytes(p.values[0]);
    CHECK(std::equal(want, want + 4, bytes.begin()));
  }
}

TEST_CASE("symbols: each distinct word gets one id, and ids survive the table's growth") {
  rulec::ast::Symbols s;
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back(s.intern("w" + std::to_string(i)));
  CHECK(s.intern("") == 0);
  for (int i = 0; i < 5000; ++i) {
    CHECK(s.intern("w" + std::to_string(i)) == ids[i]);
    CHECK(s.str(ids[i]) == "w" + std::to_string(i));
  }
  CHECK(s.size() == 5001);
  rulec::ast::Symbols copy = s;  // a copy looks up in its own strings
  CHECK(copy.intern("w4999") == ids[4999]);
  CHECK(copy.size() == 5001);
}

TEST_CASE("parser: hostile shapes end in errors, not crashes") {
  std::size_t errors = 0;
  parse_dump(std::string(100000, '{'), &errors);
  CHECK(errors >= 1);
  parse_dump(std::string("pass\0to\n", 8), &errors);
  CHECK(errors == 1);
  parse_dump("pass from \xff\xfe\n", &errors);
  CHECK(errors == 1);
  std::string many;
  for (int i = 0; i < 200; ++i) many += "bad line\n";
  parse_dump(many, &errors);
  CHECK(errors == 51);  // 50, then "too many syntax errors"
}

TEST_CASE("fmt: canonical form of a messy policy") {
  std::string messy =
      "# head\n\n\n"
      "pass   in on lan,from { 192.0.2.0/24 , 198.51.100.0/25 }  to any port{https,80}>>state,label \"x\"   # why\n"
      "web = {\n  80,  # plain\n  443,\n}\n"
      "default  block\n\n";
  std::string want =
      "# head\n\n"
      "pass in on lan from { 192.0.2.0/24, 198.51.100.0/25 }, to any port { https, 80 } >> state, label \"x\" # why\n"
      "# plain\n"
      "web = { 80, 443 }\n"
      "default block\n";
  CHECK(format_text(messy) == want);
  CHECK(format_text(want) == want);
}

TEST_CASE("fmt: idempotent and parse(fmt(x)) == parse(x) for every example and test policy") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* dir : {"examples", "tests/golden", "grammar"}) {
    fs::path root = fs::path(RULEC_SOURCE_DIR) / dir;
    if (!fs::exists(root)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (e.path().extension() != ".rules" || e.path().filename().string().find("-error") != std::string::npos)
        continue;
      std::string text = read(e.path());
      std::size_t errors = 0;
      std::string before = parse_dump(text, &errors);
      if (errors) continue;
      INFO(e.path().string());
      std::string once = format_text(text);
      CHECK(format_text(once) == once);
      CHECK(parse_dump(once) == before);
      ++files;
    }
  }
  for (const Case& c : kCases) {
    std::string once = format_text(c.input);
    INFO(c.input);
    CHECK(format_text(once) == once);
    CHECK(parse_dump(once) == parse_dump(c.input));
  }
  CHECK(files >= 2);
}

TEST_CASE("the parser gives each statement the line and column it starts at") {
  rulec::ast::Policy p;
  rulec::diag::SourceMap sources;
  rulec::diag::Sink sink;
  auto id = sources.add("t.rules", "a = {\n 1,\n 2 }\n\n  pass out   # x\r\n\tblock in\n# y\nreject\n");
  rulec::syntax::parse_text(p, sources, id, sink);
  REQUIRE_FALSE(sink.has_errors());
  std::string at;
  for (const auto& s : p.statements) at += std::to_string(s.line) + ":" + std::to_string(s.column) + " ";
  CHECK(at == "1:1 5:3 6:2 8:1 ");
}

TEST_CASE("the parser notes the definitions and includes, in reading order") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "rulec-definitions-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "root.rules") << "web = { 80, 443 }\ninclude \"more.rules\"\npass to port $web\n"
                                       "service s = { tcp 1 }\n";
  std::ofstream(dir / "more.rules") << "net = { 192.0.2.1 }\n";
  auto doc = rulec::load_file((dir / "root.rules").string());
  CHECK_FALSE(doc->diagnostics.has_errors());
  CHECK(doc->ast.includes == 1);
  // parsed: web, include, pass, s, net; in reading order: web, include, net, pass, s
  std::string kinds;
  for (std::uint32_t d : doc->ast.definitions) kinds += doc->ast.str(doc->ast.statements[d].name) + " ";
  CHECK(kinds == "web net s ");
  std::vector<std::uint32_t> found;
  for (std::uint32_t i = 0; i < doc->ast.statements.size(); ++i)
    if (doc->ast.statements[i].kind == rulec::ast::Statement::Kind::List ||
        doc->ast.statements[i].kind == rulec::ast::Statement::Kind::Service)
      found.push_back(i);
  CHECK(doc->ast.definitions == found);
  fs::remove_all(dir);
}

TEST_CASE("includes: relative to the including file, read once, cycles and missing files reported") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "rulec-include-test";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "root.rules") << "include \"sub/a.rules\"\npass out\ninclude \"sub/a.rules\"\n";
  std::ofstream(dir / "sub" / "a.rules") << "block in\ninclude \"b.rules\"\n";
  std::ofstream(dir / "sub" / "b.rules") << "default block\n";
  auto doc = rulec::load_file((dir / "root.rules").string());
  std::string all;
  for (std::uint32_t f = 0; f < doc->sources.size(); ++f) all += dump(doc->ast, f);
  // reading order: a.rules' statements (and b.rules') come where they are included
  std::string order;
  for (const auto& s : doc->ast.statements) order += std::to_string(s.file);
  CHECK(order == "011200");
  CHECK(doc->ast.includes == 3);  // counted by the parser: what tells the loader to put them in this order
  CHECK(doc->diagnostics.all().size() == 1);
  CHECK(doc->diagnostics.all()[0].code == "RC104");

  std::ofstream(dir / "sub" / "b.rules") << "include \"../root.rules\"\n";
  doc = rulec::load_file((dir / "root.rules").string());
  std::string codes;
  for (const auto& d : doc->diagnostics.all()) codes += d.code + " ";
  CHECK(codes == "RC104 RC103 ");

  std::ofstream(dir / "root.rules") << "include \"nope.rules\"\ninclude \"sub\"\ninclude \"/dev/zero\"\n";
  doc = rulec::load_file((dir / "root.rules").string());
  REQUIRE(doc->diagnostics.all().size() == 3);
  CHECK(doc->diagnostics.all()[0].message == "cannot include 'nope.rules': No such file or directory");
  CHECK(doc->diagnostics.all()[1].message == "cannot include 'sub': is a directory");
  CHECK(doc->diagnostics.all()[2].message == "cannot include '/dev/zero': is not a regular file");
  fs::remove_all(dir);
}
