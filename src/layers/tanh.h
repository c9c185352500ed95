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

 private:
  at::Tensor out_;
};

}  // namespace bpn::layers
