// kernel/vector_math.h's transpose_block16 (the GPT attention's k^T and v^T, layers/transformer.cpp)
// and its element-by-element version (what CPUs without AVX-512 run): every element where the
// definition puts it, zeros below the R rows, nothing written past column C of dst's rows or past its
// 16 floats of each, for every R and C from 1 to 16.
#include "kernel/vector_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace bpn::kernel {
namespace {

using TransposeFn = void (*)(const float* const*, int, int, float*, std::int64_t);

void expect_transposes(TransposeFn transpose_block) {
  constexpr std::int64_t kRowStride = 37, kLdd = 24;  // source rows apart, dst rows longer than 16
  std::vector<float> src(16 * kRowStride);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.25f;
  int checked = 0;
  for (int R = 1; R <= 16; ++R) {
    for (int C = 1; C <= 16; ++C) {
      const float* rows[16] = {};
      for (int r = 0; r < R; ++r) rows[r] = src.data() + r * kRowStride + 3;  // an unaligned start
      std::vector<float> dst(17 * kLdd, std::nanf(""));
      transpose_block(rows, R, C, dst.data(), kLdd);
      for (int c = 0; c < 17; ++c) {
        for (int r = 0; r < kLdd; ++r) {
          const float got = dst[static_cast<std::size_t>(c * kLdd + r)];
          if (c < C && r < R) {
            ASSERT_EQ(got, rows[r][c]) << "R " << R << " C " << C << " at [" << c << ", " << r << "]";
          } else if (c < C && r < 16) {
            ASSERT_EQ(got, 0.0f) << "R " << R << " C " << C << " at [" << c << ", " << r << "]";
          } else {
            ASSERT_TRUE(std::isnan(got)) << "R " << R << " C " << C << " wrote [" << c << ", " << r << "]";
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 16 * 16 * 17 * kLdd);
}

TEST(TransposeBlock16, EveryElementInPlaceZerosBelowAndNothingElseWritten) { expect_transposes(transpose_block16); }

TEST(TransposeBlock16, ThePortableVersionToo) { expect_transposes(transpose_block16_portable); }

}  // namespace
}  // namespace bpn::kernel
