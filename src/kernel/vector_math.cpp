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

// 16 lanes: 6,400 elements in ~3.3 us against ~9 us with 8 lanes on this machine (Ice Lake).
__attribute__((target("avx512f"))) void tanh_avx512(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 16 <= size; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_tanhf(_mm512_loadu_ps(x + i)));
  for (; i + 8 <= size; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_tanhf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::tanh(x[i]);
}

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

__attribute__((target("avx512f"))) void exp_avx512(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 16 <= size; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
  for (; i + 8 <= size; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_expf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::exp(x[i]);
}

__attribute__((target("avx2"))) void exp_avx2(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 8 <= size; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_expf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::exp(x[i]);
}

void exp_sse(const float* x, float* y, std::int64_t size) {
  std::int64_t i = 0;
  for (; i + 4 <= size; i += 4) _mm_storeu_ps(y + i, _ZGVbN4v_expf(_mm_loadu_ps(x + i)));
  for (; i < size; ++i) y[i] = std::exp(x[i]);
}
}  // namespace

bool have_vector_tanh() { return true; }

void vector_tanh(const float* x, float* y, std::int64_t n) {
  static const auto impl = __builtin_cpu_supports("avx512f") ? tanh_avx512
                           : __builtin_cpu_supports("avx2")  ? tanh_avx2
                                                             : tanh_sse;
  impl(x, y, n);
}

void vector_exp(const float* x, float* y, std::int64_t n) {
  static const auto impl = __builtin_cpu_supports("avx512f") ? exp_avx512
                           : __builtin_cpu_supports("avx2")  ? exp_avx2
                                                             : exp_sse;
  impl(x, y, n);
}
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
