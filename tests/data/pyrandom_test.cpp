// CPython's generator, pinned to values CPython 3 prints.
#include "data/pyrandom.h"

#include <gtest/gtest.h>

#include <numeric>

namespace bpn::data {
namespace {

TEST(PyRandom, RandomAfterSeed42) {
  PyRandom rng(42);
  EXPECT_EQ(rng.random(), 0.6394267984578837);  // random.seed(42); random.random()
}

TEST(PyRandom, GetrandbitsAfterSeed42) {
  PyRandom rng(42);
  EXPECT_EQ(rng.getrandbits(32), 2746317213u);
  EXPECT_EQ(rng.getrandbits(32), 478163327u);
}

TEST(PyRandom, ShuffleOfRange10AfterSeed42) {
  PyRandom rng(42);
  std::vector<int> x(10);
  std::iota(x.begin(), x.end(), 0);
  rng.shuffle(x);
  EXPECT_EQ(x, (std::vector<int>{7, 3, 2, 8, 5, 6, 9, 4, 0, 1}));
}

TEST(PyRandom, GetrandbitsNarrowTakesTheHighBitsOfOneWord) {
  PyRandom a(42), b(42);
  EXPECT_EQ(a.getrandbits(5), b.getrandbits(32) >> 27);
}

TEST(PyRandom, GetrandbitsWideIsLowWordFirst) {
  PyRandom a(7), b(7);
  const std::uint64_t low = b.getrandbits(32), high = b.getrandbits(32);
  EXPECT_EQ(a.getrandbits(64), low | (high << 32));
}

TEST(PyRandom, RandbelowStaysInRange) {
  PyRandom rng(1);
  for (std::uint64_t n : {1ull, 2ull, 3ull, 5ull, 1000ull, (1ull << 33) + 1}) {
    for (int i = 0; i < 200; ++i) EXPECT_LT(rng.randbelow(n), n);
  }
  EXPECT_THROW(rng.randbelow(0), std::invalid_argument);
}

TEST(PyRandom, SeedsWiderThan32BitsUseTwoKeyWords) {
  PyRandom a(1ull << 32), b(0);
  EXPECT_NE(a.random(), b.random());
}

}  // namespace
}  // namespace bpn::data
