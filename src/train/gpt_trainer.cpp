#include "train/gpt_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adamw.h>

#include "verify/graph.h"

namespace bpn::train {

GPTState init_gpt(const GPTTrainConfig& cfg, const data::Dataset& data) {
  models::GPTConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = verify::sequence_length(data);
  GPTState s;
  s.g = at::detail::createCPUGenerator(mc.seed);
  s.net = models::GPT(mc, s.g);
  s.opt = AdamW(cfg.adamw);
  const auto words = static_cast<std::int64_t>(data.words.size());
  const auto n1 = static_cast<std::int64_t>(0.8 * static_cast<double>(words));
  const auto n2 = static_cast<std::int64_t>(0.9 * static_cast<double>(words));
  s.train = verify::word_sequences(data, 0, n1);
  s.val = verify::word_sequences(data, n1, n2);
  return s;
}

namespace {
std::pair<at::Tensor, at::Tensor> draw(const verify::Sequences& train, std::int64_t batch, at::Generator& g) {
  const at::Tensor ix = at::randint(0, train.X.size(0), {batch}, g, at::kLong);
  return {train.X.index({ix}), train.Y.index({ix})};
}
}  // namespace

float gpt_manual_step(GPTState& s, const GPTTrainConfig& cfg, const GPTInspect& inspect) {
  c10::InferenceMode no_autograd;
  const auto [X, Y] = draw(s.train, cfg.batch_size, s.g);
  const float loss = s.net.forward(X, Y).item<float>();
  const models::Named grads = s.net.backward();
  if (inspect) inspect(s.net, X, Y, grads);
  std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  std::vector<at::Tensor> ps, gs;
  for (auto& [name, p] : s.net.parameters()) {
    ps.push_back(*p);
    gs.push_back(by_name.at(name));
  }
  s.opt.step(ps, gs);
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

std::unique_ptr<GPTTwin> make_gpt_twin(const GPTTrainConfig& cfg, const data::Dataset& data) {
  auto twin = std::make_unique<GPTTwin>();
  twin->state = init_gpt(cfg, data);
  std::vector<at::Tensor> params;
  for (auto& [name, p] : twin->state.net.parameters()) {
    p->set_requires_grad(true);
    params.push_back(*p);
  }
  torch::optim::AdamWOptions o(cfg.adamw.lr);
  o.betas({cfg.adamw.beta1, cfg.adamw.beta2}).eps(cfg.adamw.eps).weight_decay(cfg.adamw.weight_decay);
  twin->opt = std::make_unique<torch::optim::AdamW>(params, o);
  return twin;
}

float gpt_twin_step(GPTTwin& twin, const GPTTrainConfig& cfg) {
  GPTState& s = twin.state;
  const auto [X, Y] = draw(s.train, cfg.batch_size, s.g);
  twin.opt->zero_grad();
  const at::Tensor loss = s.net.forward(X, Y);
  loss.backward();
  twin.opt->step();
  const float value = loss.item<float>();
  s.losses.push_back(value);
  ++s.step;
  return value;
}

double gpt_split_loss(models::GPT& net, const verify::Sequences& split) {
  c10::InferenceMode no_autograd;
  double total = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t start = 0; start < split.X.size(0); start += 1000) {
    const std::int64_t len = std::min<std::int64_t>(1000, split.X.size(0) - start);
    const at::Tensor Y = split.Y.narrow(0, start, len);
    const std::int64_t n = Y.ne(-1).sum().item<std::int64_t>();
    total += net.forward(split.X.narrow(0, start, len), Y).item<double>() * static_cast<double>(n);
    counted += n;
  }
  return counted ? total / static_cast<double>(counted) : std::nan("");
}

double gpt_twin_val_loss(GPTTwin& twin) { return gpt_split_loss(twin.state.net, twin.state.val); }

StepCheck check_gpt_step(const models::GPT& before, const at::Tensor& X_, const at::Tensor& Y_,
                         const models::Named& applied) {
  c10::InferenceMode autograd_on(false);
  const at::Tensor X = X_.clone(), Y = Y_.clone();
  const at::ScalarType dtype = const_cast<models::GPT&>(before).parameters().front().second->scalar_type();
  const verify::GraphFactory make = [&](at::ScalarType d) {
    auto copy = std::make_shared<models::GPT>(before, d);
    verify::GraphRun run;
    for (auto& [name, t] : copy->parameters()) {
      t->set_requires_grad(true);
      run.parameters.emplace_back(name, *t);
    }
    run.loss = copy->forward(X, Y, &run.intermediates);
    run.manual_backward = [&applied] { return applied; };
    return run;
  };
  return summarize(verify::compare_graph(make, dtype).rows);
}

}  // namespace bpn::train
