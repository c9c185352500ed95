#include "layers/flatten_consecutive.h"

#include "util/errors.h"

namespace bpn::layers {

// See docs/derivations.md#flattenconsecutive
at::Tensor flatten_consecutive_backward(const at::Tensor& dout, const at::Tensor& x) { return dout.reshape(x.sizes()); }

at::Tensor FlattenConsecutive::forward(const at::Tensor& x) {
  if (x.dim() != 3 || x.size(1) % k_ != 0) {
    throw InputError("FlattenConsecutive(" + std::to_string(k_) +
                     "): the input must be [B, T, C] with T a multiple of " + std::to_string(k_) +
                     "; use a block size that is a power of two");
  }
  x_ = x;
  at::Tensor out = x.reshape({x.size(0), x.size(1) / k_, x.size(2) * k_});
  return out.size(1) == 1 ? out.squeeze(1) : out;
}

at::Tensor FlattenConsecutive::backward(const at::Tensor& dout) {
  return table->flatten_consecutive_backward(dout, x_);
}

}  // namespace bpn::layers
