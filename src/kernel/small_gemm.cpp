#include "kernel/small_gemm.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define BPNINJA_SMALL_GEMM 1
#endif

namespace bpn::kernel {

namespace {
// The same product in plain loops, for CPUs without AVX-512 (the same order of terms, no fma).
void reference_gemm(bool a_transposed, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                    const float* B, std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc) {
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      float c = accumulate ? C[i * ldc + j] : 0.0f;
      for (std::int64_t k = 0; k < K; ++k) c += (a_transposed ? A[k * lda + i] : A[i * lda + k]) * B[k * ldb + j];
      C[i * ldc + j] = c;
    }
  }
}
void reference_transpose(std::int64_t R, std::int64_t C, const float* src, std::int64_t lds, float* dst,
                         std::int64_t ldd) {
  for (std::int64_t r = 0; r < R; ++r) {
    for (std::int64_t c = 0; c < C; ++c) dst[c * ldd + r] = src[r * lds + c];
  }
}
}  // namespace

#ifdef BPNINJA_SMALL_GEMM
namespace {

constexpr std::int64_t kRows = 8;      // rows of C per block: 8 x 2 vectors = 16 accumulators
constexpr std::int64_t kColumns = 32;  // columns of C per block: two 16-float vectors

// One block of C: MR rows from C, NV vectors of 16 columns (the last ones masked by m0/m1). A points at
// the block's first row of op(A), B and C at its first column.
//   C[r, :] = C[r, :] + sum_k op(A)[r, k] * B[k, :]   (k in order, one fma per term)
template <bool TA, int MR, int NV>
__attribute__((target("avx512f"))) void block(std::int64_t K, const float* A, std::int64_t lda, const float* B,
                                              std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc,
                                              __mmask16 m0, __mmask16 m1) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    c0[r] = accumulate ? _mm512_maskz_loadu_ps(m0, C + r * ldc) : _mm512_setzero_ps();
    if (NV == 2) c1[r] = accumulate ? _mm512_maskz_loadu_ps(m1, C + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (std::int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb);
    const __m512 b1 = NV == 2 ? _mm512_maskz_loadu_ps(m1, B + k * ldb + 16) : b0;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(TA ? A[k * lda + r] : A[r * lda + k]);
      c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
      if (NV == 2) c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(C + r * ldc, m0, c0[r]);
    if (NV == 2) _mm512_mask_storeu_ps(C + r * ldc + 16, m1, c1[r]);
  }
}

using Block = void (*)(std::int64_t, const float*, std::int64_t, const float*, std::int64_t, bool, float*, std::int64_t,
                       __mmask16, __mmask16);

template <bool TA, int NV, std::size_t... R>
constexpr std::array<Block, sizeof...(R)> blocks_for(std::index_sequence<R...>) {
  return {&block<TA, static_cast<int>(R) + 1, NV>...};
}

// kBlocks[a_transposed][NV - 1][MR - 1]
const std::array<Block, kRows> kBlocks[2][2] = {
    {blocks_for<false, 1>(std::make_index_sequence<kRows>()), blocks_for<false, 2>(std::make_index_sequence<kRows>())},
    {blocks_for<true, 1>(std::make_index_sequence<kRows>()), blocks_for<true, 2>(std::make_index_sequence<kRows>())}};

__mmask16 first_lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// One block: dst[c, r] = src[r, c] for r < rows, c < cols (both at most 16). Rows are loaded masked to
// `cols` lanes (zeros past them), the 16 x 16 tile is transposed in four rounds of shuffles (pairs of
// floats, pairs of pairs, 128-bit lanes twice), and `cols` rows are stored masked to `rows` lanes.
// GCC 12's unpack intrinsics pass _mm512_undefined_ps() as their unused merge source, which -Wuninitialized
// reports once they are inlined here; nothing uninitialized is read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void transpose_block(const float* src, std::int64_t lds, float* dst,
                                                        std::int64_t ldd, int rows, int cols) {
  const __mmask16 load = first_lanes(cols), store = first_lanes(rows);
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * lds) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
  for (int c = 0; c < cols; ++c) _mm512_mask_storeu_ps(dst + c * ldd, store, r[c]);
}
#pragma GCC diagnostic pop

}  // namespace

void transpose(std::int64_t R, std::int64_t C, const float* src, std::int64_t lds, float* dst, std::int64_t ldd) {
  if (!have_small_gemm()) {
    reference_transpose(R, C, src, lds, dst, ldd);
    return;
  }
  for (std::int64_t r0 = 0; r0 < R; r0 += 16) {
    for (std::int64_t c0 = 0; c0 < C; c0 += 16) {
      transpose_block(src + r0 * lds + c0, lds, dst + c0 * ldd + r0, ldd,
                      static_cast<int>(std::min<std::int64_t>(16, R - r0)),
                      static_cast<int>(std::min<std::int64_t>(16, C - c0)));
    }
  }
}

bool have_small_gemm() {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
}

void small_gemm(bool a_transposed, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                const float* B, std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc) {
  if (!have_small_gemm()) {
    reference_gemm(a_transposed, M, N, K, A, lda, B, ldb, accumulate, C, ldc);
    return;
  }
  for (std::int64_t j0 = 0; j0 < N; j0 += kColumns) {  // a [K, 32] panel of B, reused by every row block
    const std::int64_t width = std::min(kColumns, N - j0);
    const __mmask16 m0 = first_lanes(width), m1 = width > 16 ? first_lanes(width - 16) : 0;
    const auto& row_blocks = kBlocks[a_transposed ? 1 : 0][width > 16 ? 1 : 0];
    for (std::int64_t i0 = 0; i0 < M; i0 += kRows) {
      const std::int64_t rows = std::min(kRows, M - i0);
      const float* a = a_transposed ? A + i0 : A + i0 * lda;
      row_blocks[static_cast<std::size_t>(rows - 1)](K, a, lda, B + j0, ldb, accumulate, C + i0 * ldc + j0, ldc, m0,
                                                     m1);
    }
  }
}
#else
bool have_small_gemm() { return false; }

void transpose(std::int64_t R, std::int64_t C, const float* src, std::int64_t lds, float* dst, std::int64_t ldd) {
  reference_transpose(R, C, src, lds, dst, ldd);
}

void small_gemm(bool a_transposed, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
                const float* B, std::int64_t ldb, bool accumulate, float* C, std::int64_t ldc) {
  reference_gemm(a_transposed, M, N, K, A, lda, B, ldb, accumulate, C, ldc);
}
#endif

// Either build: transpose and small_gemm fall back to plain loops where there is no AVX-512.
void small_gemm_b_transposed(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, const float* B, float* C) {
  thread_local std::vector<float> AT, CT;  // grown, never shrunk: the kernel's two shapes alternate each step
  if (AT.size() < static_cast<std::size_t>(K * M)) AT.resize(static_cast<std::size_t>(K * M));
  if (CT.size() < static_cast<std::size_t>(N * M)) CT.resize(static_cast<std::size_t>(N * M));
  transpose(M, K, A, K, AT.data(), M);                                  // A^T [K, M]
  small_gemm(false, N, M, K, B, K, AT.data(), M, false, CT.data(), M);  // C^T = B @ A^T [N, M]
  transpose(N, M, CT.data(), M, C, N);                                  // C [M, N]
}

}  // namespace bpn::kernel
