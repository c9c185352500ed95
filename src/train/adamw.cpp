#include "train/adamw.h"

#include <cmath>

namespace bpn::train {

void AdamW::step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads) {
  if (exp_avg.empty()) {
    for (const auto& p : params) {
      exp_avg.push_back(at::zeros_like(p));
      exp_avg_sq.push_back(at::zeros_like(p));
    }
  }
  ++t_;
  const auto& c = config_;
  const double bias1 = 1.0 - std::pow(c.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(c.beta2, static_cast<double>(t_));
  for (std::size_t i = 0; i < params.size(); ++i) {
    at::Tensor p = params[i];
    const at::Tensor& g = grads[i];
    p.mul_(1.0 - c.lr * c.weight_decay);                        // decoupled weight decay
    exp_avg[i].mul_(c.beta1).add_(g, 1.0 - c.beta1);            // m
    exp_avg_sq[i].mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);  // v
    const at::Tensor denom = (exp_avg_sq[i].sqrt() / std::sqrt(bias2)).add_(c.eps);
    p.addcdiv_(exp_avg[i], denom, -c.lr / bias1);
  }
}

}  // namespace bpn::train
