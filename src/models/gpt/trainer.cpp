#include "models/gpt/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adamw.h>

#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <type_traits>

#include "models/gpt/check.h"
#include "train/checkpoint_file.h"
#include "train/run.h"
#include "verify/graph.h"
#include "verify/report.h"

namespace bpn::train {

GPTState init_gpt(const GPTTrainConfig& cfg, const data::Dataset& data) {
  models::GPTConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = verify::sequence_length(data);
  GPTState s;
  s.g = at::detail::createCPUGenerator(mc.seed);
  s.net = models::GPT(mc, s.g);
  s.opt = AdamW(cfg.adamw);
  attach_splits(s, data);
  return s;
}

void attach_splits(GPTState& s, const data::Dataset& data) {
  const auto words = static_cast<std::int64_t>(data.words.size());
  const auto n1 = static_cast<std::int64_t>(0.8 * static_cast<double>(words));
  const auto n2 = static_cast<std::int64_t>(0.9 * static_cast<double>(words));
  s.train = verify::word_sequences(data, 0, n1);
  s.val = verify::word_sequences(data, n1, n2);
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
  std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  std::vector<at::Tensor> ps, gs;
  models::Named named;
  for (auto& [name, p] : s.net.parameters()) named.emplace_back(name, *p);
  const std::string problem = train::gradient_shape_problem(named, grads);
  for (const auto& [name, p] : named) {
    ps.push_back(p);
    gs.push_back(problem.empty() ? by_name.at(name) : at::Tensor());
  }
  std::optional<models::GPT> before;
  std::optional<AdamW> opt_before;
  if (inspect) {
    before.emplace(s.net, ps.front().scalar_type());
    opt_before.emplace(s.opt);
    for (auto* state : {&opt_before->exp_avg, &opt_before->exp_avg_sq}) {
      for (at::Tensor& t : *state) t = t.clone();
    }
  }
  if (problem.empty()) s.opt.step(ps, gs);  // else not applied: the rows (or the throw below) say why
  if (inspect) inspect(GPTStep{*before, X, Y, grads, s.net, *opt_before, cfg.adamw});
  if (!problem.empty()) throw TrainingFailure("step " + std::to_string(s.step) + ": " + problem);
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

std::unique_ptr<GPTTwin> make_gpt_twin(const GPTTrainConfig& cfg, const data::Dataset& data) {
  auto twin = std::make_unique<GPTTwin>();
  twin->state = init_gpt(cfg, data);
  twin->state.net.save_for_manual_backward = false;  // autograd keeps what it needs itself
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
}  // namespace

StepCheck check_gpt_step(const GPTStep& step) {
  c10::InferenceMode autograd_on(false);
  const at::Tensor X = step.X.clone(), Y = step.Y.clone();
  auto& before = const_cast<models::GPT&>(step.before);
  const at::ScalarType dtype = before.parameters().front().second->scalar_type();
  const models::Named& applied = step.grads;
  const verify::GraphFactory make = [&](at::ScalarType d) {
    auto copy = std::make_shared<models::GPT>(step.before, d);
    verify::GraphRun run;
    for (auto& [name, t] : copy->parameters()) {
      t->set_requires_grad(true);
      run.parameters.emplace_back(name, *t);
    }
    run.loss = copy->forward(X, Y, &run.intermediates);
    run.manual_backward = [&applied] { return applied; };
    return run;
  };
  std::vector<verify::Row> rows =
      verify::compare_graph(make, dtype, verify::gpt_noise_scales(step.before.config.n_embd)).rows;
  // The update against torch::optim::AdamW from the same state and applied gradient
  verify::NamedTensorList p_before, p_after;
  for (auto& [name, t] : before.parameters()) p_before.emplace_back(name, *t);
  for (auto& [name, t] : const_cast<models::GPT&>(step.after).parameters()) p_after.emplace_back(name, *t);
  const verify::UpdateReference adamw = [&](std::size_t i, const at::Tensor& p, const at::Tensor& g, at::ScalarType d) {
    return torch_adamw_update(p, g, step.opt_before, i, step.adamw, d);
  };
  for (verify::Row& row : verify::update_rows(p_before, applied, p_after, adamw)) rows.push_back(std::move(row));
  return summarize(std::move(rows));
}

verify::ExerciseReport gpt_step_exercise(const data::Dataset& data, const GPTTrainConfig& cfg, at::ScalarType dtype) {
  GPTState s = init_gpt(cfg, data);
  s.net = models::GPT(s.net, dtype);
  verify::ExerciseReport ex{
      2, "The training step as `train --arch gpt` runs it (training forward, applied gradients, AdamW update)", {}};
  gpt_manual_step(s, cfg, [&](const GPTStep& step) { ex.rows = check_gpt_step(step).rows; });
  return ex;
}

// ---- Checkpoints ------------------------------------------------------------------------------

namespace {
nlohmann::json gpt_config_json(const GPTTrainConfig& c) {
  nlohmann::json j = c.model.to_json();
  j["batch_size"] = c.batch_size;
  j["adamw"] = {{"lr", c.adamw.lr},
                {"beta1", c.adamw.beta1},
                {"beta2", c.adamw.beta2},
                {"eps", c.adamw.eps},
                {"weight_decay", c.adamw.weight_decay}};
  return j;
}
}  // namespace

void save_gpt_checkpoint(const std::string& dir, const GPTState& s, const GPTTrainConfig& cfg,
                         const data::Dataset& data) {
  SafeTensors st =
      checkpoint_base("gpt", gpt_config_json(cfg), data.vocab, "train_words", s.train.X.size(0), s.step, s.g, s.losses);
  st.metadata["adamw_steps"] = std::to_string(s.opt.steps());
  auto& net = const_cast<models::GPT&>(s.net);
  const auto params = net.parameters();
  for (const auto& [name, t] : params) st.tensors.emplace_back(name, *t);
  for (std::size_t i = 0; i < s.opt.exp_avg.size(); ++i) {
    st.tensors.emplace_back("adamw.exp_avg." + params[i].first, s.opt.exp_avg[i]);
    st.tensors.emplace_back("adamw.exp_avg_sq." + params[i].first, s.opt.exp_avg_sq[i]);
  }
  write_checkpoint(dir, st);
}

GPTCheckpoint load_gpt_checkpoint(const std::string& dir) {
  CheckpointReader r(dir, "gpt", "pass the --out directory of a `bpninja train --arch gpt` run");
  GPTCheckpoint c;
  try {
    const nlohmann::json j = r.config();
    c.config.model.vocab_size = j.at("vocab_size").get<std::int64_t>();
    c.config.model.block_size = j.at("block_size").get<std::int64_t>();
    c.config.model.n_layer = j.at("n_layer").get<std::int64_t>();
    c.config.model.n_head = j.at("n_head").get<std::int64_t>();
    c.config.model.n_embd = j.at("n_embd").get<std::int64_t>();
    c.config.model.seed = j.at("seed").get<std::uint64_t>();
    c.config.batch_size = j.at("batch_size").get<std::int64_t>();
    const nlohmann::json& a = j.at("adamw");
    c.config.adamw = {a.at("lr").get<double>(), a.at("beta1").get<double>(), a.at("beta2").get<double>(),
                      a.at("eps").get<double>(), a.at("weight_decay").get<double>()};
  } catch (const nlohmann::json::exception& e) {
    r.fail(std::string("inconsistent metadata (") + e.what() + ")");
  }
  const models::GPTConfig& m = c.config.model;
  c.vocab = r.vocab();
  c.train_words = r.integer("train_words");
  c.state.step = r.integer("step");
  const std::int64_t adamw_steps = r.integer("adamw_steps");
  if (static_cast<std::int64_t>(c.vocab.size()) != m.vocab_size || m.n_layer < 1 || m.n_layer > 48 || m.n_head < 1 ||
      m.n_head > 64 || m.n_embd < 1 || m.n_embd > 4096 || m.n_embd % m.n_head != 0 || m.block_size < 2 ||
      m.block_size > 1024 || c.config.batch_size < 1 || adamw_steps != c.state.step) {
    r.fail("inconsistent metadata (sizes out of range, a vocabulary of the wrong size or AdamW's step count)");
  }
  at::Generator g = at::detail::createCPUGenerator(0);
  models::GPT net(m, g);
  const auto params = net.parameters();
  for (const auto& [name, t] : params) r.restore(name, t);
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  if (adamw_steps > 0) {
    for (const auto& [name, t] : params) {
      exp_avg.push_back(at::zeros_like(*t));
      exp_avg_sq.push_back(at::zeros_like(*t));
      r.restore("adamw.exp_avg." + name, &exp_avg.back());
      r.restore("adamw.exp_avg_sq." + name, &exp_avg_sq.back());
    }
  }
  r.restore_history(c.state.g, c.state.losses, c.state.step);
  r.reject_unexpected();
  c.state.net = std::move(net);
  c.state.opt = AdamW(c.config.adamw);
  c.state.opt.restore(adamw_steps, std::move(exp_avg), std::move(exp_avg_sq));
  return c;
}

std::vector<std::string> sample_gpt(GPTCheckpoint& c, std::int64_t count, std::uint64_t seed) {
  c10::InferenceMode no_autograd;
  const data::Vocab vocab = data::Vocab::from_chars(c.vocab);
  const std::int64_t L = c.config.model.block_size;
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < count; ++k) {
    std::vector<std::int64_t> idx = {0};  // the start token
    std::string name;
    while (static_cast<std::int64_t>(idx.size()) < L) {  // the model has positions 0..L-1
      const at::Tensor X = at::tensor(idx, at::kLong).view({1, -1});
      const at::Tensor last = c.state.net.logits(X).select(1, X.size(1) - 1);  // [1, V]
      const std::int64_t ix = at::multinomial(at::softmax(last, 1), 1, false, g).item<std::int64_t>();
      if (ix == 0) break;
      idx.push_back(ix);
      name += vocab.decode(ix);
    }
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace bpn::train
