#include "layers/cross_entropy.h"

namespace bpn::layers {

at::Tensor CrossEntropy::forward(const at::Tensor& logits, const at::Tensor& Y) {
  logits_ = logits.detach();
  Y_ = Y;
  return at::cross_entropy_loss(logits, Y);
}

at::Tensor CrossEntropy::backward() const { return table->cross_entropy_backward(logits_, Y_); }

at::Tensor cross_entropy_backward(const at::Tensor& logits, const at::Tensor& Y) {
  // loss = -sum over counted rows of logp[i, Y[i]] / N:  dlogp[i, Y[i]] = -1/N, computed in logits' dtype
  const at::Tensor counted = Y.ne(-1);
  const std::int64_t N = counted.sum().item<std::int64_t>();
  const at::Tensor rows = at::arange(Y.size(0), Y.options()).masked_select(counted);
  const at::Tensor minus_one_over_N = at::full({}, -1.0, logits.options()) / static_cast<double>(N);
  at::Tensor dlogp = at::zeros_like(logits);
  dlogp.index_put_({rows, Y.masked_select(counted)}, minus_one_over_N);
  // logp = log_softmax(logits):  dlogits = dlogp - exp(logp) * sum_j dlogp[:, j], as one multiply-add
  // (addcmul: ATen's log_softmax backward fuses it where the CPU has FMA, so it rounds once there)
  const at::Tensor logp = at::log_softmax(logits, 1);
  return at::addcmul(dlogp, at::exp(logp), dlogp.sum(1, /*keepdim=*/true), /*value=*/-1);
}

}  // namespace bpn::layers
