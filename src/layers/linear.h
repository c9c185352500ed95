// Linear(fan_in, fan_out, bias): out = x @ W + b.     [..., fan_in] -> [..., fan_out]
// Init (the lecture): W = randn(fan_in, fan_out) / sqrt(fan_in); b = zeros(fan_out).
// See docs/derivations.md#linear
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

// Forward: out = x @ W + b
// Local:   dx = dout @ W^T; dW = x^T @ dout (over every leading index); db = dout summed over them
LinearGrads linear_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& W, bool bias);

class Linear : public Layer {
 public:
  Linear(std::int64_t fan_in, std::int64_t fan_out, bool bias, at::Generator& g);
  std::string kind() const override { return "Linear"; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor backward(const at::Tensor& dout) override;
  NamedSlots parameters() override;
  NamedTensors grads() const override;
  at::Tensor weight, bias, dweight, dbias;

 private:
  at::Tensor x_;
};

}  // namespace bpn::layers
