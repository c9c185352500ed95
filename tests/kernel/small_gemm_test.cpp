// kernel/small_gemm.h: every shape class the blocks meet (full and partial blocks of 8 rows and of 16
// and 32 columns, K from 1 up), both operand layouts, with and without accumulation, against the
// product in float64. The bound is the classic one for a float32 sum of K+1 terms formed in order:
// |C - exact| <= (K + 1) u sum |terms|, u = 2^-24 (Higham, Accuracy and Stability, section 3.1).
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
  if (!have_small_gemm()) GTEST_LOG_(INFO) << "no AVX-512 here: small_gemm ran its plain loops";
}

}  // namespace
}  // namespace bpn::kernel
