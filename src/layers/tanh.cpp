#include "layers/tanh.h"

#include "model/backward.h"

namespace bpn::layers {

// See docs/derivations.md#h_backward: the derivation and the fma that makes it bit-exact.
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out) { return model::h_backward(dout, out); }

at::Tensor Tanh::forward(const at::Tensor& x) {
  at::Tensor out = at::tanh(x);
  out_ = out.detach();
  return out;
}

at::Tensor Tanh::backward(const at::Tensor& dout) { return table->tanh_backward(dout, out_); }

}  // namespace bpn::layers
