// tanh and exp over float32 arrays through glibc's vector math library (libmvec's tanhf and expf, 16
// lanes with AVX-512, 8 with AVX2, 4 with SSE: vector_lanes()), where the build found it. Much faster than ATen's
// Sleef call on this machine (tanh of 6,400 elements: ~26 us; ~9 us with 8 lanes, ~3.3 us with 16),
// and not the same function: results may differ from at::tanh in the last bits. The 16- and 8-lane
// tanhf differ too (1.5% of all floats, measured), so the result depends on the vector width (the
// CPU's, or less under LIBXSMM_TARGET: vector_lanes()), as the BLAS kernels' do (the ledger records the
// dispatch). The training steps use them (the MLP's kernel: tanh and its softmax's exp, which `check`'s
// Exercise 4 runs too; the WaveNet's Tanh and the GPT's GELU outside autograd); autograd never does.
// The first call initialises libxsmm (in a build with it), to read its target.
#pragma once

#include <cstdint>

namespace bpn::kernel {

// Whether libmvec was found at build time; without it vector_tanh is std::tanh per element.
bool have_vector_tanh();
// The widest lanes vector_tanh and vector_exp take: 16, 8 or 4, the CPU's widest, held to the instruction
// set libxsmm targets (kernel/products.h: LIBXSMM_TARGET=hsw gives an AVX2 CPU's 8, as it gives its
// products; ctest checks the ledger and the determinism of the MLP's training under it); 1 without libmvec.
int vector_lanes();
// vector_tanh with 16, 8 or 4 lanes, the widest of those not above `lanes` and the CPU's (4 below 8): what
// another choice gives (for the tests).
void vector_tanh_lanes(int lanes, const float* x, float* y, std::int64_t n);
// y[i] = tanh(x[i]) for i < n. Elementwise: for a given n and vector_lanes(), the same x[i] always gives
// the same y[i] in the same position (the widest lanes first, then narrower ones, then a scalar tail).
void vector_tanh(const float* x, float* y, std::int64_t n);
// y[i] = exp(x[i]) for i < n, libmvec's expf the same way (x == y allowed). Its vector and scalar
// expf differ in the last bit for ~2% of floats, so here too the position decides.
void vector_exp(const float* x, float* y, std::int64_t n);

// One 16 x 16 block of a transpose: dst[c * ldd + r] = rows[r][c] for c < C and r < 16, 0 for r >= R
// (R, C at most 16). Pure moves: in registers where the CPU has AVX-512 (four rounds of 16 shuffles, in
// place of 256 scalar stores a row of dst apart), element by element elsewhere.
// (It lives here because <immintrin.h> must stay out of the files compiled with -ffp-contract=off:
// GCC 12's target pragmas in that header turn contraction back on for the code after it.)
void transpose_block16(const float* const* rows, int R, int C, float* dst, std::int64_t ldd);
// The same element by element: what CPUs without AVX-512 run (the tests hold both to the definition).
void transpose_block16_portable(const float* const* rows, int R, int C, float* dst, std::int64_t ldd);

}  // namespace bpn::kernel
