// CPython's `random` module, reimplemented so that the C++ split equals the notebook's
// `random.seed(42); random.shuffle(words)` to the permutation.
//
// What is reproduced (CPython 3.x, Modules/_randommodule.c and Lib/random.py):
//   seed(int)       -> init_by_array(key) where key = abs(int) split into 32-bit words, low first
//   getrandbits(k)  -> 32-bit MT19937 outputs, low word first, the last one shifted right
//   random()        -> (a*2^26 + b) / 2^53 with a = genrand>>5, b = genrand>>6
//   _randbelow(n)   -> rejection sampling on getrandbits(n.bit_length())
//   shuffle(x)      -> Fisher-Yates from the end: for i = len-1..1, j = _randbelow(i+1)
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace bpn::data {

class PyRandom {
 public:
  explicit PyRandom(std::uint64_t seed) { this->seed(seed); }

  void seed(std::uint64_t seed);
  std::uint32_t genrand_uint32();
  std::uint64_t getrandbits(int k);          // 0 <= k <= 64
  double random();                           // [0, 1)
  std::uint64_t randbelow(std::uint64_t n);  // [0, n), n >= 1

  template <typename T>
  void shuffle(std::vector<T>& x) {
    for (std::size_t i = x.size(); i-- > 1;) {
      const auto j = static_cast<std::size_t>(randbelow(i + 1));
      std::swap(x[i], x[j]);
    }
  }

 private:
  static constexpr int N = 624;
  void init_genrand(std::uint32_t s);
  void init_by_array(const std::vector<std::uint32_t>& key);

  std::array<std::uint32_t, N> mt_{};
  int mti_ = N + 1;
};

}  // namespace bpn::data
