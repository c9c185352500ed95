// kernel/small_gemm.h: every shape class the blocks meet (full and partial blocks of 8 rows and of 16
// and 32 columns, K from 1 up), both operand layouts, with and without accumulation, against the
// product in float64. Without AVX-512 the same checks run the plain loops, and the test then reports
// itself skipped (so ctest shows that the blocks were not tested here). The bound is the classic one
// for a float32 sum of K+1 terms formed in order: |C - exact| <= (K + 1) u sum |terms|, u = 2^-24 (Higham, Accuracy and
// Stability, section 3.1).
#include "kernel/small_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

namespace bpn::kernel {
namespace {

TEST(SmallGemm, EveryBlockShapeIsWithinTheFloat32DotProductBound) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const double u = std::ldexp(1.0, -24);
  int checked = 0;
  for (const bool transposed : {false, true}) {
    for (const std::int64_t M : {1, 7, 8, 9, 30, 32, 200}) {
      for (const std::int64_t N : {1, 15, 16, 17, 27, 32, 33, 200}) {
        for (const std::int64_t K : {1, 27, 32, 200}) {
          for (const bool accumulate : {false, true}) {
            std::vector<float> A(M * K), B(K * N), C0(M * N);
            for (float& x : A) x = normal(rng);
            for (float& x : B) x = normal(rng);
            for (float& x : C0) x = normal(rng);
            std::vector<float> C = C0;
            small_gemm(transposed, M, N, K, A.data(), transposed ? M : K, B.data(), N, accumulate, C.data(), N);
            for (std::int64_t i = 0; i < M; ++i) {
              for (std::int64_t j = 0; j < N; ++j) {
                double exact = accumulate ? C0[i * N + j] : 0.0, magnitude = std::fabs(exact);
                for (std::int64_t k = 0; k < K; ++k) {
                  const double term = static_cast<double>(transposed ? A[k * M + i] : A[i * K + k]) * B[k * N + j];
                  exact += term;
                  magnitude += std::fabs(term);
                }
                const double error = std::fabs(C[i * N + j] - exact),
                             bound = static_cast<double>(K + 1) * u * magnitude;
                if (error > bound) {
                  std::ostringstream where;
                  where << (transposed ? "A^T" : "A") << " @ B, M " << M << " N " << N << " K " << K
                        << (accumulate ? " accumulating" : "") << ": C[" << i << ", " << j << "] = " << C[i * N + j]
                        << ", exact " << exact << ", error " << error << " > bound " << bound;
                  FAIL() << where.str();
                }
                ++checked;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
  // The plain loops passed; the AVX-512 blocks, which this test is for, could not run here
  if (!have_small_gemm())
    GTEST_SKIP()
        << "no AVX-512 here: small_gemm ran its plain loops (they passed); its AVX-512 blocks are untested on this CPU";
}

// A @ B^T as the kernel's dout @ W^T forms it (two transposes around small_gemm), under the same bound.
TEST(SmallGemm, ATimesBTransposedIsWithinTheFloat32DotProductBound) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const double u = std::ldexp(1.0, -24);
  int checked = 0;
  for (const std::int64_t M : {1, 2, 15, 16, 17, 27, 32}) {
    for (const std::int64_t N : {1, 16, 27, 30, 33, 200}) {
      for (const std::int64_t K : {1, 17, 27, 30, 200}) {
        std::vector<float> A(M * K), B(N * K), C(M * N, std::nanf(""));
        for (float& x : A) x = normal(rng);
        for (float& x : B) x = normal(rng);
        small_gemm_b_transposed(M, N, K, A.data(), B.data(), C.data());
        for (std::int64_t i = 0; i < M; ++i) {
          for (std::int64_t j = 0; j < N; ++j) {
            double exact = 0.0, magnitude = 0.0;
            for (std::int64_t k = 0; k < K; ++k) {
              const double term = static_cast<double>(A[i * K + k]) * B[j * K + k];
              exact += term;
              magnitude += std::fabs(term);
            }
            const double error = std::fabs(C[i * N + j] - exact), bound = static_cast<double>(K + 1) * u * magnitude;
            ASSERT_LE(error, bound) << "M " << M << " N " << N << " K " << K << ": C[" << i << ", " << j
                                    << "] = " << C[i * N + j] << ", exact " << exact;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
  // The plain loops passed; the AVX-512 blocks, which this test is for, could not run here
  if (!have_small_gemm())
    GTEST_SKIP() << "no AVX-512 here: small_gemm_b_transposed ran its plain loops (they passed); its AVX-512 blocks "
                    "are untested on this CPU";
}

// transpose moves floats and nothing else: every element lands exactly where it belongs, for full and
// partial 16 x 16 blocks on both sides, with padded row strides; the padding and guard rows before and
// after dst keep their values (masked stores must stay inside dst's [C, R]).
TEST(SmallGemm, TransposeMovesEveryElementAndNothingElse) {
  constexpr std::int64_t kGuard = 64;  // floats before and after dst
  int checked = 0;
  for (const std::int64_t R : {1, 7, 15, 16, 17, 27, 30, 32, 33, 200}) {
    for (const std::int64_t C : {1, 8, 16, 17, 27, 30, 32, 47, 200}) {
      const std::int64_t lds = C + 3, ldd = R + 5;
      std::vector<float> src(R * lds), buffer(C * ldd + 2 * kGuard, -1.0f);
      for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<float>(k) + 0.5f;
      float* dst = buffer.data() + kGuard;
      transpose(R, C, src.data(), lds, dst, ldd);
      for (std::int64_t k = -kGuard; k < C * ldd + kGuard; ++k) {
        const std::int64_t c = k >= 0 ? k / ldd : -1, r = k >= 0 ? k % ldd : -1;
        const bool inside = k >= 0 && c < C && r < R;
        const float want = inside ? src[r * lds + c] : -1.0f;  // everything else keeps its value
        ASSERT_EQ(dst[k], want) << "R " << R << " C " << C << ": dst offset " << k;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0);
  // The plain loops passed; the AVX-512 blocks, which this test is for, could not run here
  if (!have_small_gemm())
    GTEST_SKIP()
        << "no AVX-512 here: transpose ran its plain loops (they passed); its AVX-512 blocks are untested on this CPU";
}

}  // namespace
}  // namespace bpn::kernel
