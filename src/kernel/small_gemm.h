// Small single-precision matrix products for the MLP's training kernel (issue 14), written for
// AVX-512. The kernel's six products are tiny (32 x 200 x 27 and the like), and OpenBLAS 0.3.21 runs
// them at 47-108 GFLOP/s on this machine (the three with a side of 27 at 47-57) against a measured
// peak of 174 GFLOP/s (two 16-lane FMAs a cycle). These run C in blocks of 8 rows by 32 columns, the
// 16 accumulators in registers, for the products whose B is row-major (op(A) @ B and A^T @ B: the
// forward's two and the backward's dW; measured 84-101 GFLOP/s). The backward's dx = dout @ W^T
// stays with BLAS: a transposed B needs a transpose first, which cost about what it saved (2.4 us
// per W, measured).
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
