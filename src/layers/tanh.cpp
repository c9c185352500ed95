#include "layers/tanh.h"

#include "kernel/vector_math.h"
#include "layers/cpu_loops.h"
#include "models/mlp/backward.h"

namespace bpn::layers {

// See docs/derivations.md#h_backward: the derivation and the fma that makes it bit-exact.
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out) { return model::h_backward(dout, out); }

at::Tensor Tanh::forward(const at::Tensor& x) {
  at::Tensor out;
  if (vector_tanh && no_autograd(x) && x.device().is_cpu() && x.is_contiguous() && x.scalar_type() == at::kFloat) {
    out = at::empty_like(x);  // outside autograd: libmvec's tanhf (kernel/vector_math.h)
    kernel::vector_tanh(x.data_ptr<float>(), out.data_ptr<float>(), x.numel());
  } else {
    out = at::tanh(x);
  }
  out_ = out.detach();
  return out;
}

at::Tensor Tanh::backward(const at::Tensor& dout) { return table->tanh_backward(dout, out_); }

}  // namespace bpn::layers
