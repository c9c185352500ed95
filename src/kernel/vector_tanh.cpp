#include "kernel/vector_tanh.h"

#include <immintrin.h>

#include <cmath>

namespace bpn::kernel {

#ifdef BPNINJA_HAVE_MVEC
namespace {
// The names the x86-64 vector function ABI gives tanhf on 4 floats (SSE, any x86-64) and on 8 (AVX2).
extern "C" __m128 _ZGVbN4v_tanhf(__m128);
extern "C" __m256 _ZGVdN8v_tanhf(__m256);

__attribute__((target("avx2"))) void tanh_avx2(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 8 <= size; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_tanhf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::tanh(x[i]);
}

void tanh_sse(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_tanhf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::tanh(x[i]);
}
}  // namespace

bool have_vector_tanh() { return true; }

void vector_tanh(const float* x, float* y, std::int64_t n) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  (avx2 ? tanh_avx2 : tanh_sse)(x, y, n);
}
#else
bool have_vector_tanh() { return false; }

void vector_tanh(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
#endif

}  // namespace bpn::kernel
