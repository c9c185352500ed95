// When a layer runs its hand-written CPU loop instead of tensor ops: float or double tensors, all on
// the CPU, of one dtype. Every loop has its tensor-op form next to it for other devices and dtypes.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

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

// Two independent pieces of work, on two threads when ATen has at least two (`--threads`): each
// piece's ATen ops and BLAS calls then run on one thread each. In order on this thread otherwise.
// Either way every result is the same, bit for bit: only where the work runs changes. The caller's
// inference and grad modes hold in both threads (at::parallel_for does not carry them over).
template <typename First, typename Second>
void run_both(First&& first, Second&& second) {
  if (at::get_num_threads() < 2 || at::in_parallel_region()) {
    first();
    second();
    return;
  }
  const bool inference = c10::InferenceMode::is_enabled(), grad = at::GradMode::is_enabled();
  at::parallel_for(0, 2, 1, [&](std::int64_t begin, std::int64_t end) {
    c10::InferenceMode inference_mode(inference);
    at::AutoGradMode grad_mode(grad);
    for (std::int64_t i = begin; i < end; ++i) {
      if (i == 0) {
        first();
      } else {
        second();
      }
    }
  });
}

}  // namespace bpn::layers
