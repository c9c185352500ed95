#include "train/sequence_training.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <type_traits>

namespace bpn::train {

std::pair<at::Tensor, at::Tensor> draw_sequences(const data::Sequences& split, std::int64_t batch, at::Generator& g) {
  const at::Tensor ix = at::randint(0, split.X.size(0), {batch}, g, at::kLong);
  return {split.X.index({ix}), split.Y.index({ix})};
}

double sequence_split_loss(const std::function<at::Tensor(const at::Tensor& X, const at::Tensor& Y)>& loss,
                           const data::Sequences& split) {
  c10::InferenceMode no_autograd;
  double total = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t start = 0; start < split.X.size(0); start += 1000) {
    const std::int64_t len = std::min<std::int64_t>(1000, split.X.size(0) - start);
    const at::Tensor Y = split.Y.narrow(0, start, len);
    const std::int64_t n = Y.ne(-1).sum().item<std::int64_t>();
    total += loss(split.X.narrow(0, start, len), Y).item<double>() * static_cast<double>(n);
    counted += n;
  }
  return counted ? total / static_cast<double>(counted) : std::nan("");
}

std::vector<std::string> sample_sequences(const std::function<at::Tensor(const at::Tensor& prefix)>& last_logits,
                                          const data::Vocab& vocab, std::int64_t L, std::int64_t count,
                                          std::uint64_t seed) {
  c10::InferenceMode no_autograd;
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < count; ++k) {
    std::vector<std::int64_t> idx = {0};  // the start token
    std::string name;
    while (static_cast<std::int64_t>(idx.size()) < L) {  // the model has positions 0..L-1
      const at::Tensor X = at::tensor(idx, at::kLong).view({1, -1});
      const std::int64_t ix = at::multinomial(at::softmax(last_logits(X), 1), 1, false, g).item<std::int64_t>();
      if (ix == 0) break;
      idx.push_back(ix);
      name += vocab.decode(ix);
    }
    names.push_back(std::move(name));
  }
  return names;
}

namespace {
// torch::optim's per-parameter state is keyed by the TensorImpl: its address as a string in LibTorch
// 1.x, the pointer itself in 2.x.
template <class Key>
Key optimizer_state_key(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace

// Parameter i after one step of torch::optim::AdamW (in dtype d) from `opt`'s state and gradient g.
at::Tensor torch_adamw_update(const at::Tensor& p0, const at::Tensor& g, const AdamW& opt, std::size_t i,
                              const AdamWConfig& c, at::ScalarType d) {
  at::Tensor p = p0.detach().to(d).clone().set_requires_grad(true);
  p.mutable_grad() = g.detach().to(d).clone();
  torch::optim::AdamWOptions o(c.lr);
  o.betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.weight_decay);
  torch::optim::AdamW torch_opt(std::vector<at::Tensor>{p}, o);
  if (opt.steps() > 0) {
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(opt.steps());
    state->exp_avg(opt.exp_avg.at(i).to(d).clone());
    state->exp_avg_sq(opt.exp_avg_sq.at(i).to(d).clone());
    using Key = typename std::decay_t<decltype(torch_opt.state())>::key_type;
    torch_opt.state()[optimizer_state_key<Key>(p)] = std::move(state);
  }
  torch_opt.step();
  return p.detach();
}

nlohmann::json adamw_config_json(const AdamWConfig& c) {
  return {{"lr", c.lr}, {"beta1", c.beta1}, {"beta2", c.beta2}, {"eps", c.eps}, {"weight_decay", c.weight_decay}};
}

AdamWConfig adamw_config_from_json(const nlohmann::json& a) {
  return {a.at("lr").get<double>(), a.at("beta1").get<double>(), a.at("beta2").get<double>(), a.at("eps").get<double>(),
          a.at("weight_decay").get<double>()};
}

void save_adamw_state(SafeTensors& st, const std::vector<std::string>& names, const AdamW& opt) {
  st.metadata["adamw_steps"] = std::to_string(opt.steps());
  for (std::size_t i = 0; i < opt.exp_avg.size(); ++i) {
    st.tensors.emplace_back("adamw.exp_avg." + names[i], opt.exp_avg[i]);
    st.tensors.emplace_back("adamw.exp_avg_sq." + names[i], opt.exp_avg_sq[i]);
  }
}

AdamW restore_adamw_state(CheckpointReader& r, const std::vector<std::pair<std::string, at::Tensor*>>& params,
                          const AdamWConfig& config, std::int64_t steps) {
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  if (steps > 0) {
    for (const auto& [name, t] : params) {
      exp_avg.push_back(at::zeros_like(*t));
      exp_avg_sq.push_back(at::zeros_like(*t));
      r.restore("adamw.exp_avg." + name, &exp_avg.back());
      r.restore("adamw.exp_avg_sq." + name, &exp_avg_sq.back());
    }
  }
  AdamW opt(config);
  opt.restore(steps, std::move(exp_avg), std::move(exp_avg_sq));
  return opt;
}

}  // namespace bpn::train
