#include "data/pyrandom.h"

#include <stdexcept>

namespace bpn::data {

namespace {
constexpr int M = 397;
constexpr std::uint32_t kMatrixA = 0x9908b0dfU;
constexpr std::uint32_t kUpperMask = 0x80000000U;
constexpr std::uint32_t kLowerMask = 0x7fffffffU;

int bit_length(std::uint64_t n) {
  int k = 0;
  while (n != 0) {
    ++k;
    n >>= 1;
  }
  return k;
}
}  // namespace

void PyRandom::init_genrand(std::uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < N; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  mti_ = N;
}

void PyRandom::init_by_array(const std::vector<std::uint32_t>& key) {
  init_genrand(19650218U);
  int i = 1;
  std::size_t j = 0;
  const std::size_t key_length = key.size();
  for (std::size_t k = (static_cast<std::size_t>(N) > key_length ? N : key_length); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] + static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= N) {
      mt_[0] = mt_[N - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int k = N - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - static_cast<std::uint32_t>(i);
    ++i;
    if (i >= N) {
      mt_[0] = mt_[N - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial array
}

void PyRandom::seed(std::uint64_t seed) {
  // random.seed(n) for an int n: key = abs(n) as 32-bit words, least significant first ([0] for 0).
  std::vector<std::uint32_t> key{static_cast<std::uint32_t>(seed & 0xffffffffU)};
  if ((seed >> 32) != 0) key.push_back(static_cast<std::uint32_t>(seed >> 32));
  init_by_array(key);
}

std::uint32_t PyRandom::genrand_uint32() {
  static constexpr std::uint32_t mag01[2] = {0x0U, kMatrixA};
  std::uint32_t y;
  if (mti_ >= N) {
    int kk = 0;
    for (; kk < N - M; ++kk) {
      y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + M] ^ (y >> 1) ^ mag01[y & 0x1U];
    }
    for (; kk < N - 1; ++kk) {
      y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + (M - N)] ^ (y >> 1) ^ mag01[y & 0x1U];
    }
    y = (mt_[N - 1] & kUpperMask) | (mt_[0] & kLowerMask);
    mt_[N - 1] = mt_[M - 1] ^ (y >> 1) ^ mag01[y & 0x1U];
    mti_ = 0;
  }
  y = mt_[mti_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

std::uint64_t PyRandom::getrandbits(int k) {
  if (k < 0 || k > 64) throw std::invalid_argument("getrandbits: k must be in [0, 64]");
  if (k == 0) return 0;
  if (k <= 32) return genrand_uint32() >> (32 - k);
  // Wider than 32 bits: CPython fills 32-bit words from the least significant end.
  const std::uint64_t low = genrand_uint32();
  const std::uint64_t high = genrand_uint32() >> (64 - k);
  return low | (high << 32);
}

double PyRandom::random() {
  const std::uint32_t a = genrand_uint32() >> 5;
  const std::uint32_t b = genrand_uint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::uint64_t PyRandom::randbelow(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("randbelow: n must be positive");
  const int k = bit_length(n);
  std::uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

}  // namespace bpn::data
