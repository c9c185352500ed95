// The single-precision products of the MLP's training kernel and of the GPT (issue 27): libxsmm's JIT
// kernels (libxsmm-dev 1.17) where they measured fastest, the BLAS LibTorch links (OpenBLAS) elsewhere.
// Chosen per product shape, at run time, by the instruction set libxsmm finds on this CPU:
//   AVX-512, AVX2  libxsmm. A @ B^T, which libxsmm 1.17 does not JIT (no transposed first operand in its
//                  column-major terms), as A @ (B^T), B transposed into the shape's scratch first by
//                  libxsmm's JIT transpose (libxsmm_otrans where it returns none).
//   older CPUs, a build without libxsmm, a shape libxsmm returns no kernel for, and products of more than
//   2^24 multiply-adds (twice the largest measured; libxsmm's kernels do no cache blocking): OpenBLAS.
// Measured (`bench_step --benchmark_filter=Product`, docs/performance.md#the-products-on-a-small-matrix-library),
// AVX-512 on a Zen 5 EPYC, the MLP's six products: libxsmm 1.9-2.5 us, the hand-written AVX-512 GEMM it
// replaces 2.0-2.3, OpenBLAS 4.2-6.4, BLIS 20-73; the GPT's six: libxsmm 58-81 us, OpenBLAS 125-173.
// AVX2 (libxsmm held to it with LIBXSMM_TARGET=hsw, OpenBLAS on its Haswell kernels): libxsmm 3.6-3.8 us
// on the 200-wide products against OpenBLAS's 4.2-4.6, but 7.4-10.5 on the 27- and 30-wide ones against
// 4.9-6.7. They stay on libxsmm all the same: with them on OpenBLAS the kernel's dC is no longer bit-equal
// to autograd's (`LIBXSMM_TARGET=hsw ATEN_CPU_CAPABILITY=avx2 bpninja check`: 1 ULP), which the ledger
// records exact; ctest's cli.check_mlp_with_the_products_of_an_avx2_cpu holds it there.
//
// Arithmetic: libxsmm's AVX2 kernels accumulate each C[i, j] in k order with one fma per term (bit for bit
// that loop at the MLP's and the GPT's shapes, as measured); its AVX-512 kernels do too except, at some
// widths, in the columns past the last full 16; OpenBLAS rounds its own way. Each is a correctly computed product with
// its own rounding: the kernel's tests and `--verify-every` judge them as they judge any BLAS, and docs/determinism.md
// says which results therefore depend on the CPU. LIBXSMM_TARGET (libxsmm's own variable) changes the choice,
// and the width of the kernel's tanh and exp with it (libxsmm_vector_floats below).
#pragma once

#include <cstdint>
#include <string>

namespace bpn::kernel {

enum class ProductLibrary { kOpenBlas, kLibxsmm };
const char* library_name(ProductLibrary library);

// Row-major C [M, N] = op(A) @ op(B): op(A) [M, K] is A (row stride K) or, with ta, the transpose of A
// stored [K, M]; op(B) [K, N] is B (row stride N) or, with tb, B stored [N, K]. C is overwritten (a bias
// is added after the product, as x @ W + b rounds in PyTorch: kernel::linear_rows).
struct ProductShape {
  bool ta = false, tb = false;
  std::int64_t M = 0, N = 0, K = 0;
};

// The instruction set libxsmm targets here ("cpx", "hsw", ...), or "none" in a build without libxsmm.
std::string libxsmm_target();

// Whether libxsmm runs its AVX-512 kernels here. The GPT takes its products from here only then
// (layers::KernelProducts): with AVX2 kernels its six measured 117-199 us against OpenBLAS's 125-173,
// and its ledger holds on OpenBLAS there (cli.check_gpt_with_the_products_of_an_avx2_cpu).
bool libxsmm_avx512();

// The floats in a vector of the instruction set libxsmm targets here: 16 (any AVX-512, Knights Landing's
// included, unlike libxsmm_avx512), 8 (AVX2), 4 (older), 0 in a build without libxsmm. The kernel's vector math takes
// the same width (kernel/vector_math.h), so that LIBXSMM_TARGET=hsw gives an AVX2 CPU's tanh as well as its products.
int libxsmm_vector_floats();

// The library the rule above picks for `shape` on this CPU (libxsmm only where it returns a kernel).
ProductLibrary choose_library(const ProductShape& shape);

// C = op(A) @ op(B) through the chosen library. The libxsmm kernel and the scratch
// of a transposed B are made on the first call for a shape and kept per thread: no allocation afterwards.
void product(const ProductShape& shape, const float* A, const float* B, float* C);

// The same product through `library` (for the benchmarks and the tests): libxsmm falls back to OpenBLAS
// where it has no kernel, as the rule does.
void product_with(ProductLibrary library, const ProductShape& shape, const float* A, const float* B, float* C);

// Row-major C [M, N] = op(A) @ op(B) through the BLAS LibTorch links (its sgemm_, no dispatcher in
// between; at::mm where the build found none).
void blas_gemm(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, const float* B,
               float* C);

}  // namespace bpn::kernel
