// Small text helpers shared by the pf and Windows backends.
#include "backends/output_text.hpp"

namespace rulec::backends {

std::vector<AddressBlock> address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set) {
  const unsigned bits = address_bits(f);
  std::vector<AddressBlock> out;
  if (set.empty()) {
    out.push_back({0, 0});
    return out;
  }
  for (const auto& r : set) {
    ir::U128 lo = r.lo;
    for (;;) {
      // The largest aligned block starting at lo that stays within hi.
      unsigned size_bits = 0;
      while (size_bits < bits) {
        unsigned next = size_bits + 1;
        ir::U128 mask = next >= 128 ? ~ir::U128{0} : (ir::U128{1} << next) - 1;
        if ((lo & mask) != 0) break;
        if ((lo | mask) > r.hi) break;
        ++size_bits;
      }
      out.push_back({lo, bits - size_bits});
      ir::U128 last = size_bits == 128 ? ~ir::U128{0} : lo + ((ir::U128{1} << size_bits) - 1);
      if (last >= r.hi) break;
      lo = last + 1;
    }
  }
  return out;
}

std::string format_block(ir::Family f, const AddressBlock& b) {
  std::string s = ir::format_address(f, b.base);
  if (b.prefix != address_bits(f)) s += "/" + std::to_string(b.prefix);
  return s;
}

std::string comment_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

std::string source_comment(const diag::SourceMap* sources, const diag::Location& loc) {
  if (!sources || loc.file >= sources->size()) return {};
  return comment_text(sources->describe(loc));
}

}  // namespace rulec::backends
