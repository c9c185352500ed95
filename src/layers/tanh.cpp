#include "layers/tanh.h"

#include "layers/cpu_loops.h"
#include "model/backward.h"

namespace bpn::layers {

// See docs/derivations.md#h_backward: the derivation and the fma that makes it bit-exact.
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out) { return model::h_backward(dout, out); }

at::Tensor Tanh::forward(const at::Tensor& x) {
  at::Tensor out;
  if (no_autograd(x) && cpu_loops({x}) && x.is_contiguous() && x.numel() >= 2 * 4096) {
    // Outside autograd (the manual training step): ATen's tanh over each half of the elements, on two
    // threads when there are two. Elementwise, and the split falls on a multiple of 64 elements, so every
    // element takes the same vectorized (or, in the last n mod 64, scalar) path as in one at::tanh:
    // bit-identical.
    out = at::empty_like(x);
    const std::int64_t n = x.numel(), half = n / 2 / 64 * 64;
    const at::Tensor xf = x.view({-1}), of = out.view({-1});
    at::Tensor first = of.narrow(0, 0, half), second = of.narrow(0, half, n - half);
    run_both([&] { at::tanh_out(first, xf.narrow(0, 0, half)); },
             [&] { at::tanh_out(second, xf.narrow(0, half, n - half)); });
  } else {
    out = at::tanh(x);
  }
  out_ = out.detach();
  return out;
}

at::Tensor Tanh::backward(const at::Tensor& dout) { return table->tanh_backward(dout, out_); }

}  // namespace bpn::layers
