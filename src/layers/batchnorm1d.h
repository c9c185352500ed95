// BatchNorm1d(C), as the lectures write it: over dim 0 of [B, C], over dims (0, 1) of [B, T, C]; the
// Bessel-corrected batch variance; eps 1e-5; gamma ones, beta zeros; running mean and variance with
// momentum 0.1, updated once per training forward; eval mode normalises with them.
// See docs/derivations.md#batchnorm1d
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

inline constexpr double kBatchNormEps = 1e-5;
inline constexpr double kBatchNormMomentum = 0.1;

// Forward: out = gamma * xhat + beta, xhat = (x - mean) / sqrt(var + eps), mean and var (n - 1) over
//          the n = numel / C positions of each channel
// Closed form: dx = gamma * inv_std / n * (n dout - sum dout - n/(n-1) xhat sum(dout xhat)),
//          dgamma = sum(dout xhat), dbeta = sum dout (sums over the n positions), for either rank
BatchNormGrads batchnorm1d_backward(const at::Tensor& dout, const at::Tensor& xhat, const at::Tensor& inv_std,
                                    const at::Tensor& gamma);

class BatchNorm1d : public Layer {
 public:
  explicit BatchNorm1d(std::int64_t dim);
  std::string kind() const override { return "BatchNorm1d"; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor backward(const at::Tensor& dout) override;
  NamedSlots parameters() override { return {{"gamma", &gamma}, {"beta", &beta}}; }
  NamedTensors grads() const override { return {{"gamma", dgamma}, {"beta", dbeta}}; }
  NamedSlots buffers() override { return {{"running_mean", &running_mean}, {"running_var", &running_var}}; }
  at::Tensor gamma, beta, running_mean, running_var, dgamma, dbeta;
  std::int64_t updates = 0;  // how many training forwards updated the running statistics

  // Outside autograd (the training step), on the CPU: the whole training forward in one loop, the
  // statistics accumulated in double. Off, the mean and variance are ATen's and the rest is the same
  // float operations as the tensor ops: the forward is then autograd's, bit for bit.
  bool loop_statistics = true;

 private:
  // The training forward outside autograd, one loop: with mean and var undefined it computes them
  // (loop_statistics), else it uses them.
  at::Tensor forward_outside_autograd(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& var);
  at::Tensor xhat_, inv_std_;
};

}  // namespace bpn::layers
