// Fuzz target: parse, lower and compile to every registered target.
//
// The targets are read from the registry, so a new backend is fuzzed the
// moment it registers. For each: it either emits (non-empty output, no
// error) or refuses with an error diagnostic and empty output; emitting is
// deterministic; the output holds no control bytes a label or interface
// name could smuggle in (only tab, line feed and carriage return).
#include "backends/backend.hpp"
#include "fuzz_support.hpp"

using namespace rulec;

namespace {

bool has_stray_control_byte(const std::string& out) {
  for (unsigned char c : out)
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return true;
  return false;
}

void compile_everywhere(const fuzz::Parsed& p) {
  for (const backends::BackendEntry& target : backends::registry()) {
    backends::EmitOptions options;
    options.sources = &p.sources;
    std::string out, out_again;
    diag::Sink sink, sink_again;
    bool ok = backends::compile(target, p.ir, options, out, sink);
    fuzz::check_diagnostics(sink, p.sources);
    if (ok) {
      RULEC_FUZZ_CHECK(!out.empty(), "a target emitted nothing and reported no error", target.name, p.text());
      RULEC_FUZZ_CHECK(!sink.has_errors(), "a target emitted and reported an error", target.name, p.text());
      RULEC_FUZZ_CHECK(!has_stray_control_byte(out), "a target wrote a control byte", target.name, out);
    } else {
      RULEC_FUZZ_CHECK(sink.has_errors(), "a target refused without an error diagnostic", target.name, p.text());
      RULEC_FUZZ_CHECK(out.empty(), "a target refused but left output", target.name, out);
    }
    bool ok_again = backends::compile(target, p.ir, options, out_again, sink_again);
    RULEC_FUZZ_CHECK(ok == ok_again && out == out_again, "compiling twice gave different results", out, out_again);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto x = fuzz::parse(std::string(reinterpret_cast<const char*>(data), size), true);
  if (!x->ok()) return 0;
  compile_everywhere(*x);
  return 0;
}
