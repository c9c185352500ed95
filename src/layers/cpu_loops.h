// When a layer runs its hand-written CPU loop instead of tensor ops: float or double tensors, all on
// the CPU, of one dtype. Every loop has its tensor-op form next to it for other devices and dtypes.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <initializer_list>

// A loop compiled twice, for AVX2 and for the baseline, chosen at load time by the CPU it runs on
#if defined(__x86_64__) && !defined(__clang__)
#define BPN_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BPN_AVX2_CLONES
#endif

namespace bpn::layers {

inline bool cpu_loops(std::initializer_list<at::Tensor> ts) {
  const at::ScalarType st = ts.begin()->scalar_type();
  for (const at::Tensor& t : ts) {
    if (!t.device().is_cpu() || t.scalar_type() != st || (st != at::kFloat && st != at::kDouble)) return false;
  }
  return true;
}

// Outside autograd (the manual training step): nothing will differentiate through x
inline bool no_autograd(const at::Tensor& x) { return !at::GradMode::is_enabled() && !x.requires_grad(); }

}  // namespace bpn::layers
