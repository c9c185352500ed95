// Small single-precision matrix products for the MLP's training kernel (issue 14), written for
// AVX-512: C in blocks of 8 rows by 32 columns, the 16 accumulators in registers, B row-major
// (op(A) @ B and A^T @ B). OpenBLAS 0.3.21 runs the kernel's products with a side of 27 poorly on this
// machine; small_gemm runs the two that are 27 columns wide (h @ W2, h^T @ dlogits) in 3.4 and 4.0 us
// against 5.9 and 5.4, and the two dout @ W^T through small_gemm_b_transposed (two register transposes
// around it) in 4.3 and 3.9 against 6.2 and 4.5 (`bench_step --benchmark_filter=BM_Product`,
// docs/performance.md), so the kernel takes those four from here. On the 200-wide ones with B row-major OpenBLAS is
// faster.
// The GPT's products (512 rows, 64-256 columns) run here too, at 190-210 GFLOP/s against OpenBLAS's
// (Haswell kernels) 100 (`bench_step --benchmark_filter=GPTProduct`; layers::SmallGemmProducts).
//
// Arithmetic: each C[i, j] is accumulated in k order with one fused multiply-add per term, starting
// from C[i, j] (accumulate) or from 0. The result is a correctly computed product with its own
// rounding, not OpenBLAS's: the kernel's tests and `--verify-every` judge it as they judge the BLAS.
#pragma once

#include <cstdint>

namespace bpn::kernel {

// Whether small_gemm runs its AVX-512 blocks on this CPU (AVX-512F, and a GCC x86-64 build). Without
// them it is a plain triple loop, correct but slow: callers take BLAS instead.
bool have_small_gemm();

// Row-major C[M, N] = (accumulate ? C : 0) + op(A) @ B, where B is [K, N] (row stride ldb) and op(A)
// is [M, K]: A itself (row stride lda) or, with a_transposed, the transpose of A stored [K, M] (row
// stride lda).
void small_gemm(bool a_transposed, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                const float* B, std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc);

// Row-major C[M, N] = A @ B^T for A [M, K] and B [N, K], both contiguous, formed as C^T = B @ A^T: A
// is transposed into scratch (kernel-owned, per thread), small_gemm forms C^T [N, M], which is
// transposed into C. Meant for M <= 32, where C^T is one panel of small_gemm's.
void small_gemm_b_transposed(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, const float* B, float* C);

// Row-major dst[c, r] = src[r, c] for r < R, c < C (src [R, C] with row stride lds, dst [C, R] with
// row stride ldd), in 16 x 16 blocks held in registers (masked at the edges) with AVX-512, plain loops
// otherwise. Exact: it only moves floats.
void transpose(std::int64_t R, std::int64_t C, const float* src, std::int64_t lds, float* dst, std::int64_t ldd);

}  // namespace bpn::kernel
