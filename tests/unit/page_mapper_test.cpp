// support::PageMapper maps pages ahead of the code that writes them; it must
// never change a byte, whatever the writer does meanwhile (write the same
// pages, outgrow its reserve, free the memory).
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "support/page_mapper.hpp"

namespace {

using rulec::support::map_now;
using rulec::support::MapAhead;
using rulec::support::PageMapper;

TEST_CASE("PageMapper: a vector mapped ahead while it is written holds what was written") {
  PageMapper mapper;
  for (bool reserved : {true, false}) {  // without a reserve the vector moves as it grows
    CAPTURE(reserved);
    std::vector<std::uint64_t> v;
    if (reserved) v.reserve(1 << 20);
    MapAhead<std::uint64_t> ahead(1 << 16);
    for (std::uint64_t i = 0; i < (1 << 20); ++i) {
      if (i % 512 == 0) ahead.keep_up(mapper, v);
      v.push_back(i * 7 + 1);
    }
    bool all = true;
    for (std::uint64_t i = 0; i < v.size(); ++i) all = all && v[i] == i * 7 + 1;
    CHECK(v.size() == (1u << 20));
    CHECK(all);
  }
}

TEST_CASE("PageMapper: mapping memory that was freed meanwhile, or nothing, is harmless") {
  PageMapper mapper;
  const std::uint64_t* gone = nullptr;
  {
    std::vector<std::uint64_t> v(1 << 18, 5);
    gone = v.data();
  }
  mapper.map(gone, gone + (1 << 18));
  mapper.map(gone, gone);
  std::vector<std::uint64_t> after(1 << 18, 9);  // may reuse the freed memory
  mapper.map(after.data(), after.data() + after.size());
  bool all = true;
  for (std::uint64_t x : after) all = all && x == 9;
  CHECK(all);
}

TEST_CASE("map_now: mapping written and unwritten pages, at odd bounds, changes no byte") {
  std::vector<std::uint64_t> v;
  v.reserve(1 << 18);
  for (std::uint64_t i = 0; i < (1 << 17); ++i) v.push_back(i * 3 + 2);
  // half written, half the reserve; bounds inside pages, and an empty range
  map_now(reinterpret_cast<const char*>(v.data()) + 100, v.data() + v.capacity() - 3);
  map_now(v.data() + 5, v.data() + 5);
  for (std::uint64_t i = v.size(); i < (1 << 18); ++i) v.push_back(i * 3 + 2);
  bool all = true;
  for (std::uint64_t i = 0; i < v.size(); ++i) all = all && v[i] == i * 3 + 2;
  CHECK(v.size() == (1u << 18));
  CHECK(all);
}

}  // namespace
