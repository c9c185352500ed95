// kernel/products.h: every product class the MLP's kernel and the GPT form (A @ B, A^T @ B, A @ B^T,
// widths below, at and past libxsmm's 16-float vectors, K from 1 up), through each library, against the
// product in float64, C starting as NaN. The bound is the classic one for a float32 sum of K terms:
// |C - exact| <= K u sum |terms|, u = 2^-24 (Higham, Accuracy and Stability, section 3.1).
// Then the choice itself (issue 27): which library each of the kernel's products gets on this CPU, and
// that the choice and its results are the same on every call, every thread and every run.
#include "kernel/products.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "kernel/mlp_kernel.h"
#include "kernel/vector_math.h"

namespace bpn::kernel {
namespace {

struct Operands {
  std::vector<float> A, B;
  std::size_t c_size;
  // C before the product: NaN, so that an element the product leaves unwritten fails the bound
  std::vector<float> unwritten_C() const { return std::vector<float>(c_size, std::nanf("")); }
};

Operands draw_operands(const ProductShape& s, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Operands o{std::vector<float>(s.M * s.K), std::vector<float>(s.K * s.N), static_cast<std::size_t>(s.M * s.N)};
  for (float& x : o.A) x = normal(rng);
  for (float& x : o.B) x = normal(rng);
  return o;
}

// Empty when C is within the bound everywhere; else the shape, the worst index, both values and the bound
std::string outside_bound(const ProductShape& s, const Operands& o, const std::vector<float>& C) {
  const double u = std::ldexp(1.0, -24);
  double worst = 0.0;
  std::ostringstream out;
  for (std::int64_t i = 0; i < s.M; ++i) {
    for (std::int64_t j = 0; j < s.N; ++j) {
      double exact = 0.0, magnitude = 0.0;
      for (std::int64_t k = 0; k < s.K; ++k) {
        const double a = s.ta ? o.A[k * s.M + i] : o.A[i * s.K + k], b = s.tb ? o.B[j * s.K + k] : o.B[k * s.N + j];
        exact += a * b;
        magnitude += std::fabs(a * b);
      }
      const double error = std::fabs(C[i * s.N + j] - exact), bound = static_cast<double>(s.K) * u * magnitude;
      if (!(error <= bound) && (out.tellp() == 0 || error / bound > worst)) {
        worst = error / bound;
        out.str("");
        out << (s.ta ? "A^T" : "A") << " @ " << (s.tb ? "B^T" : "B") << " [" << s.M << "x" << s.N << "x" << s.K << "]"
            << ": C[" << i << ", " << j << "] = " << C[i * s.N + j] << ", exact " << exact << ", error " << error
            << " > bound " << bound;
      }
    }
  }
  return out.str();
}

class Products : public ::testing::TestWithParam<ProductLibrary> {};

// Rows of C; under ASan (10x slower) without the 200-row products, whose paths the others take too
#ifdef BPNINJA_SANITIZE_BUILD
constexpr std::int64_t kRows[] = {1, 7, 9, 30, 32};
#else
constexpr std::int64_t kRows[] = {1, 7, 9, 30, 32, 200};
#endif

TEST_P(Products, EveryShapeClassIsWithinTheFloat32DotProductBound) {
  std::mt19937 rng(7);
  const std::string target = libxsmm_target();
  const bool libxsmm_runs = target == "hsw" || libxsmm_avx512();
  int checked = 0;
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      for (const std::int64_t M : kRows) {
        for (const std::int64_t N : {1, 15, 16, 17, 27, 33, 64, 200}) {
          for (const std::int64_t K : {1, 27, 32, 200}) {
            const ProductShape s{ta, tb, M, N, K};
            const Operands o = draw_operands(s, rng);
            std::vector<float> C = o.unwritten_C();
            product_with(GetParam(), s, o.A.data(), o.B.data(), C.data());
            // where libxsmm runs here, each of these shapes has a kernel (else OpenBLAS ran it)
            if (GetParam() == ProductLibrary::kLibxsmm && libxsmm_runs) {
              ASSERT_EQ(choose_library(s), ProductLibrary::kLibxsmm)
                  << "no libxsmm kernel for " << M << "x" << N << "x" << K;
            }
            const std::string failure = outside_bound(s, o, C);
            ASSERT_TRUE(failure.empty()) << library_name(GetParam()) << ": " << failure;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 2 * static_cast<int>(std::size(kRows)) * 8 * 4);
  if (GetParam() == ProductLibrary::kLibxsmm && libxsmm_target() == "none") {
    GTEST_SKIP() << "built without libxsmm (libxsmm-dev): every product ran on OpenBLAS (they passed)";
  }
}

INSTANTIATE_TEST_SUITE_P(Libraries, Products, ::testing::Values(ProductLibrary::kOpenBlas, ProductLibrary::kLibxsmm),
                         [](const auto& info) { return std::string(library_name(info.param)); });

// The kernel's six products at the lecture's shapes (n 32, 30 inputs, 200 hidden, 27 classes) and the
// library the rule in products.h gives each, per instruction set.
const auto kKernelProducts = step_products(32, 30, 200, 27);

TEST(ProductChoice, TheKernelsProductsGetTheLibraryOfTheirInstructionSet) {
  const std::string target = libxsmm_target();
  const bool avx512 = target == "skx" || target == "clx" || target == "cpx" || target == "spr";
  EXPECT_EQ(libxsmm_avx512(), avx512) << "libxsmm's target: " << target;
  const bool avx2 = target == "hsw" || avx512;
  for (const NamedProduct& p : kKernelProducts) {
    const ProductShape& s = p.shape;
    // products.h: all on libxsmm with AVX-512 or AVX2; OpenBLAS otherwise
    const bool libxsmm = avx2;
    EXPECT_EQ(choose_library(s), libxsmm ? ProductLibrary::kLibxsmm : ProductLibrary::kOpenBlas)
        << p.name << " (libxsmm's target: " << target << ")";
  }
  if (target == "none") GTEST_SKIP() << "built without libxsmm: every product is OpenBLAS's";
}

// The kernel's tanh and exp take the lanes of the instruction set libxsmm targets, so that LIBXSMM_TARGET=hsw
// gives an AVX2 CPU's tanh (8 lanes) with its products, and the ledger's and the determinism tests' runs
// under it are an AVX2 CPU's step. The widths are told apart by their results: where 16 lanes run here,
// the 16- and 8-lane tanhf differ on some of these floats, and vector_tanh is the one of vector_lanes().
// (On a CPU without AVX-512 that last part is not shown: nothing here tells its 8 lanes from 4.)
TEST(ProductChoice, TheKernelsTanhTakesTheLanesOfTheInstructionSetLibxsmmTargets) {
  if (!have_vector_tanh()) GTEST_SKIP() << "built without libmvec: tanh is std::tanh per element";
  const std::string target = libxsmm_target();
  const int cpu = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4;
  if (target == "hsw") {
    EXPECT_EQ(libxsmm_vector_floats(), 8);
  }
  if (libxsmm_avx512()) {
    EXPECT_EQ(libxsmm_vector_floats(), 16);
  }
  const int of_target = target == "none" ? cpu : libxsmm_vector_floats();
  EXPECT_EQ(vector_lanes(), std::min(cpu, of_target)) << "libxsmm's target: " << target;
  std::vector<float> x(1 << 14), y(x.size()), expected(x.size()), wide(x.size()), narrow(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 12.0f * static_cast<float>(i) / x.size();
  vector_tanh(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  vector_tanh_lanes(vector_lanes(), x.data(), expected.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(y, expected) << "vector_tanh is not the " << vector_lanes() << "-lane tanhf";
  if (cpu == 16) {
    vector_tanh_lanes(16, x.data(), wide.data(), static_cast<std::int64_t>(x.size()));
    vector_tanh_lanes(8, x.data(), narrow.data(), static_cast<std::int64_t>(x.size()));
    EXPECT_NE(wide, narrow) << "the 16- and 8-lane tanhf agree on all these floats: the widths cannot be told apart";
  }
}

// The determinism the kernel's training relies on (docs/determinism.md): the chosen product of the same
// operands is the same bytes on every call, from a fresh thread (its own plans, its own libxsmm kernel
// lookup) and alongside another thread running the same products.
TEST(ProductChoice, TheChosenProductIsTheSameBytesOnEveryCallAndThread) {
  std::mt19937 rng(3);
  for (const NamedProduct& p : kKernelProducts) {
    const Operands o = draw_operands(p.shape, rng);
    auto run = [&] {
      std::vector<float> C = o.unwritten_C();
      product(p.shape, o.A.data(), o.B.data(), C.data());
      return C;
    };
    const std::vector<float> first = run();
    ASSERT_TRUE(outside_bound(p.shape, o, first).empty()) << p.name << ": " << outside_bound(p.shape, o, first);
    std::vector<float> again, thread_a, thread_b;
    again = run();
    std::thread a([&] { thread_a = run(); }), b([&] { thread_b = run(); });
    a.join();
    b.join();
    for (const auto* other : {&again, &thread_a, &thread_b}) {
      EXPECT_EQ(std::memcmp(first.data(), other->data(), first.size() * sizeof(float)), 0) << p.name;
    }
  }
}

// Products past the sizes measured (2^24 multiply-adds) are OpenBLAS's, bytes and all.
TEST(ProductChoice, ProductsPastTheMeasuredSizesGoToOpenBlas) {
  const ProductShape big{false, false, 300, 300, 300}, measured{false, false, 512, 256, 64};
  EXPECT_EQ(choose_library(big), ProductLibrary::kOpenBlas);
  std::mt19937 rng(5);
  const Operands o = draw_operands(big, rng);
  std::vector<float> C = o.unwritten_C(), blas = o.unwritten_C();
  product(big, o.A.data(), o.B.data(), C.data());
  blas_gemm(false, false, 300, 300, 300, o.A.data(), o.B.data(), blas.data());
  EXPECT_EQ(std::memcmp(C.data(), blas.data(), C.size() * sizeof(float)), 0);
  const std::string target = libxsmm_target();
  if (target != "hsw" && !libxsmm_avx512())
    GTEST_SKIP() << "no libxsmm AVX2 or AVX-512 kernels here (" << target << ")";
  EXPECT_EQ(choose_library(measured), ProductLibrary::kLibxsmm);
}

}  // namespace
}  // namespace bpn::kernel
