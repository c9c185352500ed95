// FlattenConsecutive(k): concatenates k consecutive positions.   [B, T, C] -> [B, T/k, C*k]
// ([B, C*k] when T/k = 1, as the lecture squeezes it). No parameters.
// See docs/derivations.md#flattenconsecutive
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

// Forward: out = x.view(B, T/k, C*k) (then squeezed)
// Local:   a view: the gradient is viewed back to x's shape, nothing is computed
at::Tensor flatten_consecutive_backward(const at::Tensor& dout, const at::Tensor& x);

class FlattenConsecutive : public Layer {
 public:
  explicit FlattenConsecutive(std::int64_t k) : k_(k) {}
  std::string kind() const override { return "FlattenConsecutive"; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor backward(const at::Tensor& dout) override;

 private:
  std::int64_t k_;
  at::Tensor x_;
};

}  // namespace bpn::layers
