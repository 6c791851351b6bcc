// Small text helpers shared by the pf and Windows backends.
//
// Address ranges of the IR become CIDR blocks (what every firewall syntax
// accepts), and text copied from the policy into a comment of the output
// (file names) is made inert: a comment can never end early and let the
// rest of a line be read as configuration.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "diag/source.hpp"
#include "ir/ir.hpp"

namespace rulec::backends {

/// One CIDR block: `base/prefix`.
struct AddressBlock {
  ir::U128 base = 0;
  unsigned prefix = 0;
};

/// Bits in an address of the family (32 or 128).
constexpr unsigned address_bits(ir::Family f) { return f == ir::Family::Inet ? 32 : 128; }

/// Splits an address set into the fewest CIDR blocks that cover it exactly.
/// An empty set (any address) gives one block of prefix 0.
std::vector<AddressBlock> address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set);

/// "192.0.2.0/24", or the bare address for a host block ("192.0.2.7").
std::string format_block(ir::Family f, const AddressBlock& b);

/// Text safe inside a one-line comment: control characters become '?'.
std::string comment_text(std::string_view text);

/// "file:line:col" of a rule's origin, made safe for a comment; "" without a source map.
std::string source_comment(const diag::SourceMap* sources, const diag::Location& loc);

}  // namespace rulec::backends
