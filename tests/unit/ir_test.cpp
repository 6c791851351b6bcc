// The intermediate form's own containers: ir::FieldSet keeps a few ranges
// inside the object and moves to the heap beyond them; either way it must
// behave like the std::vector it replaced.
#include <doctest/doctest.h>

#include <vector>

#include "ir/ir.hpp"

namespace {

using rulec::ir::FieldSet;
using rulec::ir::Range;
using rulec::ir::U128;

template <typename T>
std::vector<Range<T>> as_vector(const FieldSet<T>& s) {
  return std::vector<Range<T>>(s.begin(), s.end());
}

template <typename T>
FieldSet<T> numbers(unsigned n) {
  FieldSet<T> s;
  for (unsigned i = 0; i < n; ++i) s.push_back({static_cast<T>(3 * i), static_cast<T>(3 * i + 1)});
  return s;
}

TEST_CASE_TEMPLATE("ir::FieldSet behaves like a vector, inline and on the heap", T, std::uint8_t, std::uint16_t,
                   std::uint32_t, U128) {
  for (unsigned n : {0u, 1u, 2u, 8u, 9u, 40u}) {
    CAPTURE(n);
    FieldSet<T> s = numbers<T>(n);
    REQUIRE(s.size() == n);
    CHECK(s.empty() == (n == 0));
    for (unsigned i = 0; i < n; ++i) CHECK(s[i] == Range<T>{static_cast<T>(3 * i), static_cast<T>(3 * i + 1)});
    if (n) {
      CHECK(s.front() == s[0]);
      CHECK(s.back() == s[n - 1]);
    }
    FieldSet<T> copy = s;
    CHECK(copy == s);
    FieldSet<T> moved = std::move(copy);
    CHECK(moved == s);
    CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from set is empty
    FieldSet<T> other = {{7, 9}};
    other.swap(moved);
    CHECK(other == s);
    CHECK(moved == FieldSet<T>{{7, 9}});
    moved = other;
    CHECK(moved == s);
    moved.push_back({200, 201});
    CHECK_FALSE(moved == s);
    moved.erase(moved.end() - 1);
    CHECK(moved == s);
    moved.insert(moved.begin(), Range<T>{250, 251});
    CHECK(moved.size() == n + 1);
    CHECK(moved.front() == Range<T>{250, 251});
    moved.erase(moved.begin(), moved.begin() + 1);
    CHECK(moved == s);
    moved.resize(n / 2);
    CHECK(as_vector(moved) == std::vector<Range<T>>(s.begin(), s.begin() + n / 2));
    moved.clear();
    CHECK(moved.empty());
    moved.assign(s.begin(), s.end());
    CHECK(moved == s);
    // push_back of one of the set's own ranges while it grows
    FieldSet<T> self = numbers<T>(n);
    if (n) {
      for (unsigned k = 0; k < 20; ++k) self.push_back(self[0]);
      CHECK(self.size() == n + 20);
      CHECK(self.back() == s[0]);
    }
  }
}

TEST_CASE("ir::normalise sorts and merges in a FieldSet") {
  FieldSet<std::uint16_t> s = {{80, 80}, {1, 5}, {6, 10}, {443, 443}, {81, 90}, {3, 4}};
  rulec::ir::normalise(s);
  CHECK(s == FieldSet<std::uint16_t>{{1, 10}, {80, 90}, {443, 443}});
  FieldSet<U128> a = {{~U128{0}, ~U128{0}}, {0, 0}, {1, 1}};
  rulec::ir::normalise(a);
  CHECK(a == FieldSet<U128>{{0, 1}, {~U128{0}, ~U128{0}}});
}

}  // namespace
