#include "layers/cross_entropy.h"

#include "model/forward.h"

namespace bpn::layers {

at::Tensor CrossEntropy::forward(const at::Tensor& logits, const at::Tensor& Y) {
  logits_ = logits.detach();
  Y_ = Y;
  return model::cross_entropy_forward(logits, Y);
}

at::Tensor CrossEntropy::backward() const { return table->cross_entropy_backward(logits_, Y_); }

}  // namespace bpn::layers
