#include "layers/tanh.h"

#include "kernel/vector_tanh.h"
#include "layers/cpu_loops.h"
#include "model/backward.h"

namespace bpn::layers {

// See docs/derivations.md#h_backward: the derivation and the fma that makes it bit-exact.
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out) { return model::h_backward(dout, out); }

at::Tensor Tanh::forward(const at::Tensor& x) {
  at::Tensor out;
  if (no_autograd(x) && x.device().is_cpu() && x.is_contiguous() &&
      (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble)) {
    // Outside autograd (the training step, evaluation, sampling): each half of the elements on its own
    // thread when there are two. The split falls on a multiple of 64 elements, so every element takes
    // the same path (vector lanes or scalar tail) at any thread count: bit-identical either way.
    out = at::empty_like(x);
    const std::int64_t n = x.numel(), half = n >= 2 * 4096 ? n / 2 / 64 * 64 : n;
    const at::Tensor xf = x.view({-1});
    at::Tensor of = out.view({-1});
    auto part = [&](std::int64_t begin, std::int64_t end) {
      if (end <= begin) return;
      if (vector_tanh && x.scalar_type() == at::kFloat) {
        kernel::vector_tanh(xf.data_ptr<float>() + begin, of.data_ptr<float>() + begin, end - begin);
      } else {
        at::Tensor slice = of.narrow(0, begin, end - begin);
        at::tanh_out(slice, xf.narrow(0, begin, end - begin));
      }
    };
    if (half == n) {
      part(0, n);
    } else {
      run_both([&] { part(0, half); }, [&] { part(half, n); });
    }
  } else {
    out = at::tanh(x);
  }
  out_ = out.detach();
  return out;
}

at::Tensor Tanh::backward(const at::Tensor& dout) { return table->tanh_backward(dout, out_); }

}  // namespace bpn::layers
