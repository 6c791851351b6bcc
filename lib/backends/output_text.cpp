// Small text helpers shared by the pf and Windows backends.
#include "backends/output_text.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace rulec::backends {

void Line::grow(std::size_t need) {
  buf_.resize(std::max(need, 2 * room_));
  data_ = buf_.data();
  room_ = buf_.size();
}

char* write_number(char* end, std::uint64_t v) {
  // Two digits a step from a table: a million-rule output writes tens of
  // millions of numbers (rule indices, ports, lines).
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* p = end;
  while (v >= 100) {
    const char* pair = kPairs + 2 * (v % 100);
    v /= 100;
    *--p = pair[1];
    *--p = pair[0];
  }
  if (v >= 10) {
    *--p = kPairs[2 * v + 1];
    *--p = kPairs[2 * v];
  } else {
    *--p = static_cast<char>('0' + v);
  }
  return p;
}

namespace {

/// The decimal text of each octet, as 4 bytes (digits, padding) and a length.
struct OctetText {
  char digits[4];
  std::uint8_t length;
};

constexpr std::array<OctetText, 256> make_octets() {
  std::array<OctetText, 256> t{};
  for (unsigned v = 0; v < 256; ++v) {
    OctetText& o = t[v];
    if (v >= 100) o.digits[o.length++] = static_cast<char>('0' + v / 100);
    if (v >= 10) o.digits[o.length++] = static_cast<char>('0' + v / 10 % 10);
    o.digits[o.length++] = static_cast<char>('0' + v % 10);
  }
  return t;
}

constexpr std::array<OctetText, 256> kOctets = make_octets();

/// A dotted quad at `p` (room for 19 bytes: each octet is copied as 4); returns its end.
char* write_ipv4(char* p, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    const OctetText& o = kOctets[(v >> shift) & 0xff];
    std::memcpy(p, o.digits, 4);
    p += o.length;
    if (shift) *p++ = '.';
  }
  return p;
}

/// inet_ntop's text for an IPv6 address (RFC 5952: lower-case hex, the
/// first longest run of two or more zero groups as "::", an IPv4 tail for
/// ::a.b.c.d and ::ffff:a.b.c.d), without sprintf; returns its end.
char* write_ipv6(char* p, ir::U128 a) {
  unsigned words[8];
  for (int i = 7; i >= 0; --i, a >>= 16) words[i] = static_cast<unsigned>(a & 0xffff);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && words[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *p++ = ':';
      continue;
    }
    if (i != 0) *p++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)))
      return write_ipv4(p, (words[6] << 16) | words[7]);
    unsigned w = words[i];
    int shift = 12;
    while (shift > 0 && (w >> shift) == 0) shift -= 4;
    for (; shift >= 0; shift -= 4) *p++ = kHex[(w >> shift) & 0xf];
  }
  if (best >= 0 && best + best_len == 8) *p++ = ':';
  return p;
}

}  // namespace

std::size_t write_address(char* buf, ir::Family f, ir::U128 a) {
  char* end = f == ir::Family::Inet ? write_ipv4(buf, static_cast<std::uint32_t>(a)) : write_ipv6(buf, a);
  return static_cast<std::size_t>(end - buf);
}

namespace {

std::uint32_t count_line_ends(const char* from, const char* to) {
  std::uint32_t n = 0;
  while (from < to && (from = static_cast<const char*>(std::memchr(from, '\n', static_cast<std::size_t>(to - from))))) {
    ++n;
    ++from;
  }
  return n;
}

}  // namespace

diag::LineCol LineFinder::find(const diag::SourceMap& sources, const diag::Location& loc, std::uint32_t line,
                               std::uint32_t column) {
  const diag::SourceFile& f = sources.file(loc.file);
  const std::string& text = f.text();
  std::uint32_t offset = std::min<std::uint32_t>(loc.begin, static_cast<std::uint32_t>(text.size()));
  if (line != 0) {  // known: the column is the distance from the line's start
    file_ = loc.file;
    offset_ = offset;
    line_ = line;
    if (column != 0) return {line, column};  // known too: the text is not read
    std::uint32_t line_start = offset;
    while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
    return {line, offset - line_start + 1};
  }
  // Rules are written in source order or in reverse, so the next one is
  // usually a line away: count the line ends between (from the start of
  // the file when that is nearer). memchr over the text is cheaper than
  // the source map's line index, which would be built for this alone.
  if (loc.file != file_ || (offset < offset_ && offset < offset_ - offset)) {
    file_ = loc.file;
    offset_ = 0;
    line_ = 1;
  }
  if (offset > offset_) {
    line_ += count_line_ends(text.data() + offset_, text.data() + offset);
  } else {
    line_ -= count_line_ends(text.data() + offset, text.data() + offset_);
  }
  file_ = loc.file;
  offset_ = offset;
  std::uint32_t line_start = offset;
  while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
  return {line_, offset - line_start + 1};
}


std::vector<AddressBlock> address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set) {
  std::vector<AddressBlock> out;
  address_blocks(f, set, out);
  return out;
}

void address_blocks(ir::Family f, const ir::FieldSet<ir::U128>& set, std::vector<AddressBlock>& out) {
  const unsigned bits = address_bits(f);
  out.clear();
  if (set.empty()) {
    out.push_back({0, 0});
    return;
  }
  for (const auto& r : set) {
    ir::U128 lo = r.lo;
    for (;;) {
      // The largest aligned block starting at lo that stays within hi: as
      // many bits as lo has trailing zeros, and no more than fit in hi - lo + 1.
      ir::U128 span = r.hi - lo;  // the block's size less one, at most
      unsigned fit = span == ~ir::U128{0} ? 128 : ir::floor_log2(span + 1);
      unsigned size_bits = std::min({bits, ir::trailing_zeros(lo), fit});
      out.push_back({lo, bits - size_bits});
      ir::U128 last = size_bits == 128 ? ~ir::U128{0} : lo + ((ir::U128{1} << size_bits) - 1);
      if (last >= r.hi) break;
      lo = last + 1;
    }
  }
}

std::optional<AddressBlock> single_block(ir::Family f, const ir::Range<ir::U128>& r) {
  const unsigned bits = address_bits(f);
  const ir::U128 top = bits == 32 ? ir::U128{0xffffffffu} : ~ir::U128{0};
  if (r.lo == 0 && r.hi == top) return AddressBlock{0, 0};
  if (r.hi < r.lo) return std::nullopt;
  ir::U128 n = r.hi - r.lo + 1;  // no overflow: the whole space was handled above
  if ((n & (n - 1)) != 0 || (r.lo & (n - 1)) != 0) return std::nullopt;
  return AddressBlock{r.lo, bits - ir::trailing_zeros(n)};  // n is a power of two
}

std::size_t write_block(char* buf, ir::Family f, const AddressBlock& b) {
  std::size_t n = write_address(buf, f, b.base);
  if (b.prefix == address_bits(f)) return n;
  buf[n++] = '/';
  char digits[20];
  char* p = write_number(digits + sizeof digits, b.prefix);
  auto len = static_cast<std::size_t>(digits + sizeof digits - p);
  std::memcpy(buf + n, p, len);
  return n + len;
}

std::string format_block(ir::Family f, const AddressBlock& b) {
  std::string s;
  append_block(s, f, b);
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

namespace rulec::backends {

const std::string& SourceComments::name(std::uint32_t file) {
  if (names_.size() <= file) names_.resize(file + 1);
  std::string& name = names_[file];
  if (name.empty()) name = comment_text(sources_->file(file).name()) + ":";
  return name;
}

}  // namespace rulec::backends
