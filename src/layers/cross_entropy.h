// CrossEntropy: loss = F.cross_entropy(logits, Y), the mean over the batch.   [B, V], [B] -> []
// See docs/derivations.md#crossentropy (the layers' form: log_softmax, then nll_loss, each backpropagated)
#pragma once

#include <ATen/ATen.h>

#include "layers/backward_table.h"

namespace bpn::layers {

class CrossEntropy {
 public:
  at::Tensor forward(const at::Tensor& logits, const at::Tensor& Y);
  at::Tensor backward() const;  // dlogits = (softmax(logits) - onehot(Y)) / B, through the two steps below
  const BackwardTable* table = &hand_derived();

 private:
  at::Tensor logits_, Y_;
};

// loss = -mean over the N rows i with Y[i] != -1 of logp[i, Y[i]],  logp = log_softmax(logits)   [R, V], [R]
//   dlogp   = -1/N at (i, Y[i]) of those rows, 0 elsewhere              (nll_loss, rounded in logits' dtype)
//   dlogits = dlogp - exp(logp) * dlogp.sum(1)                          (log_softmax; one multiply-add)
// = (softmax - onehot) / N on the counted rows and 0 on the ignored ones, rounded as autograd rounds it.
at::Tensor cross_entropy_backward(const at::Tensor& logits, const at::Tensor& Y);

}  // namespace bpn::layers
