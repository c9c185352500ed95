#include "train/adamw.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bpn::train {

namespace {
bool plain_cpu(const at::Tensor& t, const at::Tensor& flat) {
  return t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == flat.scalar_type();
}
}  // namespace

bool AdamW::flat_fits(const std::vector<at::Tensor>& params) const {
  if (!flat_m_.defined() || exp_avg.size() != params.size() || exp_avg_sq.size() != params.size()) return false;
  const auto* m = static_cast<const char*>(flat_m_.data_ptr());
  const auto* v = static_cast<const char*>(flat_v_.data_ptr());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t bytes = offset * flat_m_.element_size();
    if (params[i].scalar_type() != flat_m_.scalar_type() || params[i].device() != flat_m_.device() ||
        exp_avg[i].data_ptr() != m + bytes || exp_avg_sq[i].data_ptr() != v + bytes ||
        exp_avg[i].numel() != params[i].numel() || exp_avg_sq[i].numel() != params[i].numel()) {
      return false;
    }
    offset += params[i].numel();
  }
  return offset == flat_m_.numel();
}

void AdamW::make_flat(const std::vector<at::Tensor>& params) {
  std::int64_t total = 0;
  for (const auto& p : params) {
    if (p.scalar_type() != params.front().scalar_type() || p.device() != params.front().device()) {
      throw std::invalid_argument("AdamW: every parameter must have one dtype and device");
    }
    total += p.numel();
  }
  const at::TensorOptions options = params.front().options();
  at::Tensor m = at::zeros({total}, options), v = at::zeros({total}, options);
  const bool had_state = !exp_avg.empty();
  if (had_state && (exp_avg.size() != params.size() || exp_avg_sq.size() != params.size())) {
    throw std::invalid_argument("AdamW: a state for " + std::to_string(exp_avg.size()) + " parameters, given " +
                                std::to_string(params.size()));
  }
  exp_avg.resize(params.size());
  exp_avg_sq.resize(params.size());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t n = params[i].numel();
    if (had_state) {  // m and v from a checkpoint (restore) or another layout: copied in
      m.narrow(0, offset, n).copy_(exp_avg[i].reshape({-1}));
      v.narrow(0, offset, n).copy_(exp_avg_sq[i].reshape({-1}));
    }
    exp_avg[i] = m.narrow(0, offset, n).view(params[i].sizes());
    exp_avg_sq[i] = v.narrow(0, offset, n).view(params[i].sizes());
    offset += n;
  }
  flat_m_ = m;
  flat_v_ = v;
  flat_p_ = at::empty({total}, options);
  flat_g_ = at::empty({total}, options);
  denom_ = at::empty({total}, options);
}

void AdamW::step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads) {
  if (params.empty()) return;
  if (!flat_fits(params)) make_flat(params);
  // p and g end to end in one buffer each (a copy), so that each of the update's elementwise ops below
  // runs once over every parameter rather than once per parameter (50+ tensors in the GPT): the same
  // numbers, since ATen rounds these ops alike at every position of a buffer.
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t n = params[i].numel();
    for (auto [from, to] : {std::pair{&params[i], &flat_p_}, std::pair{&grads[i], &flat_g_}}) {
      if (plain_cpu(*from, *to)) {
        std::memcpy(static_cast<char*>(to->data_ptr()) + offset * to->element_size(), from->data_ptr(),
                    n * to->element_size());
      } else {
        to->narrow(0, offset, n).copy_(from->reshape({-1}));
      }
    }
    offset += n;
  }
  ++t_;
  const auto& c = config_;
  const double bias1 = 1.0 - std::pow(c.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(c.beta2, static_cast<double>(t_));
  at::Tensor &p = flat_p_, &g = flat_g_, &m = flat_m_, &v = flat_v_;
  p.mul_(1.0 - c.lr * c.weight_decay);                         // decoupled weight decay
  m.mul_(c.beta1).add_(g, 1.0 - c.beta1);                      // m
  v.mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);               // v
  at::sqrt_out(denom_, v).div_(std::sqrt(bias2)).add_(c.eps);  // sqrt(v) / sqrt(1 - b2^t) + eps
  p.addcdiv_(m, denom_, -c.lr / bias1);
  offset = 0;
  for (const at::Tensor& param : params) {
    const std::int64_t n = param.numel();
    if (plain_cpu(param, p)) {
      std::memcpy(param.data_ptr(), static_cast<const char*>(p.data_ptr()) + offset * p.element_size(),
                  n * p.element_size());
    } else {
      at::Tensor(param).copy_(p.narrow(0, offset, n).view(param.sizes()));
    }
    offset += n;
  }
}

}  // namespace bpn::train
