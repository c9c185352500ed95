#include "kernel/vector_math.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernel/products.h"

namespace bpn::kernel {

#ifdef BPNINJA_HAVE_MVEC
namespace {
// The names the x86-64 vector function ABI gives tanhf on 4 floats (SSE, any x86-64), on 8 (AVX2) and
// on 16 (AVX-512, glibc 2.35 and later, as the 8- and 4-lane tanhf).
extern "C" __m128 _ZGVbN4v_tanhf(__m128);
extern "C" __m256 _ZGVdN8v_tanhf(__m256);
extern "C" __m512 _ZGVeN16v_tanhf(__m512);
// The same for expf (glibc 2.22 and later). Its 16- and 8-lane versions agreed on every float tried.
extern "C" __m128 _ZGVbN4v_expf(__m128);
extern "C" __m256 _ZGVdN8v_expf(__m256);
extern "C" __m512 _ZGVeN16v_expf(__m512);

enum class Fn { kTanh, kExp };

// Each width takes the blocks it can, then hands the rest to the next narrower one: 16 lanes, then 8,
// then 4, then the scalar function. (16 lanes: tanh of 6,400 elements in ~3.3 us against ~9 us with 8
// on this machine, Ice Lake.)
void map_sse(Fn f, const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 4 <= size; i += 4) {
    const __m128 v = _mm_loadu_ps(x + i);
    _mm_storeu_ps(y + i, f == Fn::kTanh ? _ZGVbN4v_tanhf(v) : _ZGVbN4v_expf(v));
  }
  for (; i < size; ++i) y[i] = f == Fn::kTanh ? std::tanh(x[i]) : std::exp(x[i]);
}

__attribute__((target("avx2"))) void map_avx2(Fn f, const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, f == Fn::kTanh ? _ZGVdN8v_tanhf(v) : _ZGVdN8v_expf(v));
  }
  map_sse(f, x + i, y + i, size - i);
}

__attribute__((target("avx512f"))) void map_avx512(Fn f, const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 16 <= size; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(y + i, f == Fn::kTanh ? _ZGVeN16v_tanhf(v) : _ZGVeN16v_expf(v));
  }
  map_avx2(f, x + i, y + i, size - i);
}

using Map = void (*)(Fn, const float*, float*, std::int64_t);
Map map_of(int lanes) { return lanes >= 16 ? map_avx512 : lanes >= 8 ? map_avx2 : map_sse; }

int cpu_lanes() { return __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4; }

void map(Fn f, const float* x, float* y, std::int64_t n) {
  static const Map impl = map_of(vector_lanes());
  impl(f, x, y, n);
}
}  // namespace

void vector_tanh_lanes(int lanes, const float* x, float* y, std::int64_t n) {
  map_of(std::min(lanes, cpu_lanes()))(Fn::kTanh, x, y, n);
}

int vector_lanes() {
  const int target = libxsmm_vector_floats();  // 0: a build without libxsmm
  return target > 0 ? std::min(cpu_lanes(), target) : cpu_lanes();
}

bool have_vector_tanh() { return true; }

void vector_tanh(const float* x, float* y, std::int64_t n) { map(Fn::kTanh, x, y, n); }

void vector_exp(const float* x, float* y, std::int64_t n) { map(Fn::kExp, x, y, n); }
#else
int vector_lanes() { return 1; }

void vector_tanh_lanes(int, const float* x, float* y, std::int64_t n) { vector_tanh(x, y, n); }

bool have_vector_tanh() { return false; }

void vector_tanh(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void vector_exp(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
#endif

namespace {
#if defined(__x86_64__)
// (GCC 12's avx512fintrin.h makes its "undefined" vectors by self-initialisation, which -Wuninitialized
// reports inside the casts and unpacks.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void transpose_block16_avx512(const float* const* rows, int R, int C, float* dst,
                                                                 std::int64_t ldd) {
  const __mmask16 cols = static_cast<__mmask16>((1u << C) - 1u);
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = i < R ? _mm512_maskz_loadu_ps(cols, rows[i]) : _mm512_setzero_ps();
  // In each 128-bit lane L: t[2i] = (r[2i][4L], r[2i+1][4L], r[2i][4L+1], r[2i+1][4L+1]), t[2i+1] the next two columns
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4q + k], lane L: column 4L + k of rows 4q .. 4q+3
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    r[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // t[k] (k < 4): columns k and 8+k of rows 0-3, then of rows 4-7; t[4 + k]: columns 4+k, 12+k; t[8..15]: rows 8-15
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
    t[4 + k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xdd);
    t[8 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
    t[12 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
  }
  // column c of all 16 rows: c < 8 from the first and third lanes of t[c], t[8 + c]; c >= 8 from the others
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(dst + c * ldd, r[c]);
}
#pragma GCC diagnostic pop
#endif
}  // namespace

void transpose_block16_portable(const float* const* rows, int R, int C, float* dst, std::int64_t ldd) {
  for (int c = 0; c < C; ++c) {
    float* d = dst + c * ldd;
    for (int r = 0; r < R; ++r) d[r] = rows[r][c];
    std::fill(d + R, d + 16, 0.0f);
  }
}

void transpose_block16(const float* const* rows, int R, int C, float* dst, std::int64_t ldd) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return transpose_block16_avx512(rows, R, C, dst, ldd);
#endif
  transpose_block16_portable(rows, R, C, dst, ldd);
}

}  // namespace bpn::kernel
