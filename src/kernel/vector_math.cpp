#include "kernel/vector_math.h"

#include <immintrin.h>

#include <cmath>

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

void map(Fn f, const float* x, float* y, std::int64_t n) {
  static const auto impl = __builtin_cpu_supports("avx512f") ? map_avx512
                           : __builtin_cpu_supports("avx2")  ? map_avx2
                                                             : map_sse;
  impl(f, x, y, n);
}
}  // namespace

bool have_vector_tanh() { return true; }

void vector_tanh(const float* x, float* y, std::int64_t n) { map(Fn::kTanh, x, y, n); }

void vector_exp(const float* x, float* y, std::int64_t n) { map(Fn::kExp, x, y, n); }
#else
bool have_vector_tanh() { return false; }

void vector_tanh(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void vector_exp(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
#endif

}  // namespace bpn::kernel
