// Tanh: out = tanh(x), elementwise. No parameters.
// See docs/derivations.md#tanh (the same derivative as the MLP's h_backward)
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

// Forward: out = tanh(x)
// Local:   1 - tanh(x)^2 = 1 - out^2, from the saved output, rounded once (model::h_backward)
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out);

class Tanh : public Layer {
 public:
  std::string kind() const override { return "Tanh"; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor backward(const at::Tensor& dout) override;
  // Outside autograd, in float32: glibc's libmvec tanhf (kernel/vector_math.h, ~4x faster than
  // ATen's) instead of at::tanh, whose last bits may differ. Autograd always runs at::tanh. Off, the
  // forward outside autograd is at::tanh's, bit for bit (what the WaveNet's twin test compares).
  bool vector_tanh = true;

 private:
  at::Tensor out_;
};

}  // namespace bpn::layers
