// CrossEntropy: loss = F.cross_entropy(logits, Y), the mean over the batch.   [B, V], [B] -> []
// See docs/derivations.md#cross_entropy_backward (the closed form of Exercise 2)
#pragma once

#include <ATen/ATen.h>

#include "layers/backward_table.h"

namespace bpn::layers {

class CrossEntropy {
 public:
  at::Tensor forward(const at::Tensor& logits, const at::Tensor& Y);
  at::Tensor backward() const;  // dlogits = (softmax(logits) - onehot(Y)) / B
  const BackwardTable* table = &hand_derived();

 private:
  at::Tensor logits_, Y_;
};

}  // namespace bpn::layers
