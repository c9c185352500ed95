// AdamW by hand, with makemore's settings (lr 5e-4, betas (0.9, 0.99), eps 1e-8, weight decay 0.01),
// the update torch::optim::AdamW performs, step for step (tests/layers/layers_test.cpp holds it to it):
//   p <- p * (1 - lr * wd)                          (decoupled weight decay)
//   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// See docs/derivations.md#adamw
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bpn::train {

struct AdamWConfig {
  double lr = 5e-4;
  double beta1 = 0.9, beta2 = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

class AdamW {
 public:
  explicit AdamW(AdamWConfig config = {}) : config_(config) {}
  // One step over the parameters (updated in place) with their gradients, matched by position.
  void step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads);
  std::int64_t steps() const { return t_; }
  // A checkpoint's state: the step count t and m, v (one per parameter, as step() made them).
  void restore(std::int64_t t, std::vector<at::Tensor> m, std::vector<at::Tensor> v) {
    t_ = t;
    exp_avg = std::move(m);
    exp_avg_sq = std::move(v);
  }
  // m and v, one per parameter. A copy of an AdamW shares them (and its buffers), as a copy of a tensor
  // does; clone them to keep a state apart (a copy with its own m and v lays out buffers of its own).
  std::vector<at::Tensor> exp_avg, exp_avg_sq;

 private:
  AdamWConfig config_;
  std::int64_t t_ = 0;
  // The update runs on every parameter at once: p, g, m, v, each end to end in one buffer (exp_avg[i] and
  // exp_avg_sq[i] are views of flat_m_ and flat_v_; copied in afresh when restore() or a copy of this
  // object left them elsewhere).
  at::Tensor flat_p_, flat_g_, flat_m_, flat_v_, denom_;
  bool flat_fits(const std::vector<at::Tensor>& params) const;
  void make_flat(const std::vector<at::Tensor>& params);
};

}  // namespace bpn::train
