// Small single-precision matrix products for the MLP's training kernel (issue 14), written for
// AVX-512: C in blocks of 8 rows by 32 columns, the 16 accumulators in registers, B row-major
// (op(A) @ B and A^T @ B). OpenBLAS 0.3.21 runs the kernel's products with a side of 27 poorly on this
// machine; small_gemm runs the two that are 27 columns wide (h @ W2, h^T @ dlogits) in 3.5 and 4.1 us
// against 5.9 and 5.5 (`bench_step --benchmark_filter=BM_Product`), so the kernel takes those two from
// here. On the 200-wide ones OpenBLAS is faster, and dout @ W^T needs a transposed B, which cost
// about what it saved (2.4 us per W). This core's measured peak is 174 GFLOP/s.
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

}  // namespace bpn::kernel
