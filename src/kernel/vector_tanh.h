// tanh over float32 arrays through glibc's vector math library (libmvec's tanhf, 8 lanes with AVX2,
// 4 with SSE), where the build found it. About 4x faster than ATen's Sleef call on this machine
// (6,400 elements: ~26 us -> ~6 us), and not the same function: results may differ from at::tanh in
// the last bits. The training steps use it (the MLP's kernel, the WaveNet's Tanh outside autograd);
// autograd and check never do.
#pragma once

#include <cstdint>

namespace bpn::kernel {

// Whether libmvec was found at build time; without it vector_tanh is std::tanh per element.
bool have_vector_tanh();
// y[i] = tanh(x[i]) for i < n. Elementwise: the same x[i] always gives the same y[i] in a
// given position modulo 8 (the vector lanes, then the scalar tail).
void vector_tanh(const float* x, float* y, std::int64_t n);

}  // namespace bpn::kernel
