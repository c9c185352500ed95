#include "models/rnn/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <map>
#include <optional>

#include "data/sequences.h"
#include "models/rnn/check.h"
#include "train/checkpoint_file.h"
#include "train/sequence_training.h"
#include "verify/graph.h"

namespace bpn::train {

RecurrentState init_recurrent(const RecurrentTrainConfig& cfg, const data::Dataset& data) {
  models::RecurrentConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data::sequence_length(data);
  RecurrentState s;
  s.g = at::detail::createCPUGenerator(mc.seed);
  s.net = models::RecurrentLM(mc, s.g);
  s.opt = AdamW(cfg.adamw);
  data::SequenceSplits splits = data::sequence_splits(data);
  s.train = std::move(splits.train);
  s.val = std::move(splits.val);
  return s;
}

float recurrent_manual_step(RecurrentState& s, const RecurrentTrainConfig& cfg, const RecurrentInspect& inspect) {
  c10::InferenceMode no_autograd;
  const auto [X, Y] = draw_sequences(s.train, cfg.batch_size, s.g);
  const float loss = s.net.forward(X, Y).item<float>();
  const models::RecurrentNamed grads = s.net.backward();
  std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  std::vector<at::Tensor> ps, gs;
  models::RecurrentNamed named;
  for (auto& [name, p] : s.net.parameters()) named.emplace_back(name, *p);
  const std::string problem = gradient_shape_problem(named, grads);
  for (const auto& [name, p] : named) {
    ps.push_back(p);
    gs.push_back(problem.empty() ? by_name.at(name) : at::Tensor());
  }
  std::optional<models::RecurrentLM> before;
  std::optional<AdamW> opt_before;
  if (inspect) {
    before.emplace(s.net, ps.front().scalar_type());
    opt_before.emplace(s.opt);
    for (auto* state : {&opt_before->exp_avg, &opt_before->exp_avg_sq}) {
      for (at::Tensor& t : *state) t = t.clone();
    }
  }
  if (problem.empty()) s.opt.step(ps, gs);  // else not applied: the rows (or the throw below) say why
  if (inspect) inspect(RecurrentStep{*before, X, Y, grads, s.net, *opt_before, cfg.adamw});
  if (!problem.empty()) throw TrainingFailure("step " + std::to_string(s.step) + ": " + problem);
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

std::unique_ptr<RecurrentTwin> make_recurrent_twin(const RecurrentTrainConfig& cfg, const data::Dataset& data) {
  auto twin = std::make_unique<RecurrentTwin>();
  twin->state = init_recurrent(cfg, data);
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

float recurrent_twin_step(RecurrentTwin& twin, const RecurrentTrainConfig& cfg) {
  RecurrentState& s = twin.state;
  const auto [X, Y] = draw_sequences(s.train, cfg.batch_size, s.g);
  twin.opt->zero_grad();
  const at::Tensor loss = s.net.forward(X, Y);
  loss.backward();
  twin.opt->step();
  const float value = loss.item<float>();
  s.losses.push_back(value);
  ++s.step;
  return value;
}

double recurrent_split_loss(models::RecurrentLM& net, const data::Sequences& split) {
  return sequence_split_loss([&](const at::Tensor& X, const at::Tensor& Y) { return net.forward(X, Y); }, split);
}

StepCheck check_recurrent_step(const RecurrentStep& step) {
  c10::InferenceMode autograd_on(false);
  const at::Tensor X = step.X.clone(), Y = step.Y.clone();
  auto& before = const_cast<models::RecurrentLM&>(step.before);
  const at::ScalarType dtype = before.parameters().front().second->scalar_type();
  const models::RecurrentNamed& applied = step.grads;
  const verify::GraphFactory make = [&](at::ScalarType d) {
    auto copy = std::make_shared<models::RecurrentLM>(step.before, d);
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
      verify::compare_graph(make, dtype, verify::recurrent_noise_scales(step.before.config.cell)).rows;
  verify::NamedTensorList p_before, p_after;
  for (auto& [name, t] : before.parameters()) p_before.emplace_back(name, *t);
  for (auto& [name, t] : const_cast<models::RecurrentLM&>(step.after).parameters()) p_after.emplace_back(name, *t);
  const verify::UpdateReference adamw = [&](std::size_t i, const at::Tensor& p, const at::Tensor& g, at::ScalarType d) {
    return torch_adamw_update(p, g, step.opt_before, i, step.adamw, d);
  };
  for (verify::Row& row : verify::update_rows(p_before, applied, p_after, adamw)) rows.push_back(std::move(row));
  return summarize(std::move(rows));
}

verify::ExerciseReport recurrent_step_exercise(const data::Dataset& data, const RecurrentTrainConfig& cfg,
                                               at::ScalarType dtype) {
  RecurrentState s = init_recurrent(cfg, data);
  s.net = models::RecurrentLM(s.net, dtype);
  verify::ExerciseReport ex{2,
                            "The training step as `train --arch " + cfg.model.arch() +
                                "` runs it (forward, applied gradients through time, AdamW update)",
                            {}};
  recurrent_manual_step(s, cfg, [&](const RecurrentStep& step) { ex.rows = check_recurrent_step(step).rows; });
  return ex;
}

// ---- Checkpoints ------------------------------------------------------------------------------

namespace {
nlohmann::json config_json(const RecurrentTrainConfig& c) {
  nlohmann::json j = c.model.to_json();
  j["batch_size"] = c.batch_size;
  j["adamw"] = adamw_config_json(c.adamw);
  return j;
}
}  // namespace

void save_recurrent_checkpoint(const std::string& dir, const RecurrentState& s, const RecurrentTrainConfig& cfg,
                               const data::Dataset& data) {
  // The model's sizes as built: vocab_size and block_size come from the data (init_*), not from cfg
  RecurrentTrainConfig saved = cfg;
  saved.model = s.net.config;
  SafeTensors st = checkpoint_base(saved.model.arch(), config_json(saved), data.vocab, "train_words", s.train.X.size(0),
                                   data_fingerprint(data), s.step, s.g, s.losses);
  std::vector<std::string> names;
  for (const auto& [name, t] : const_cast<models::RecurrentLM&>(s.net).parameters()) {
    st.tensors.emplace_back(name, *t);
    names.push_back(name);
  }
  save_adamw_state(st, names, s.opt);
  write_checkpoint(dir, st);
}

RecurrentCheckpoint load_recurrent_checkpoint(const std::string& dir, models::Cell cell) {
  models::RecurrentConfig expected;
  expected.cell = cell;
  CheckpointReader r(dir, expected.arch(),
                     "pass the --out directory of a `bpninja train --arch " + expected.arch() + "` run");
  RecurrentCheckpoint c;
  c.config.model.cell = cell;
  try {
    const nlohmann::json j = r.config();
    c.config.model.vocab_size = j.at("vocab_size").get<std::int64_t>();
    c.config.model.block_size = j.at("block_size").get<std::int64_t>();
    c.config.model.n_embd = j.at("n_embd").get<std::int64_t>();
    c.config.model.n_embd2 = j.at("n_embd2").get<std::int64_t>();
    c.config.model.seed = j.at("seed").get<std::uint64_t>();
    c.config.batch_size = j.at("batch_size").get<std::int64_t>();
    c.config.adamw = adamw_config_from_json(j.at("adamw"));
  } catch (const nlohmann::json::exception& e) {
    r.fail(std::string("inconsistent metadata (") + e.what() + ")");
  }
  const models::RecurrentConfig& m = c.config.model;
  c.vocab = r.vocab();
  c.train_words = r.integer("train_words");
  c.data_fingerprint = r.optional_meta("data_fingerprint");
  c.state.step = r.integer("step");
  const std::int64_t adamw_steps = r.integer("adamw_steps");
  if (static_cast<std::int64_t>(c.vocab.size()) != m.vocab_size || m.n_embd < 1 || m.n_embd > 4096 || m.n_embd2 < 1 ||
      m.n_embd2 > 4096 || m.block_size < 2 || m.block_size > data::kMaxSequenceLength || c.config.batch_size < 1 ||
      adamw_steps != c.state.step) {
    r.fail("inconsistent metadata (sizes out of range, a vocabulary of the wrong size or AdamW's step count)");
  }
  at::Generator g = at::detail::createCPUGenerator(0);
  models::RecurrentLM net(m, g);
  const auto params = net.parameters();
  for (const auto& [name, t] : params) r.restore(name, t);
  c.state.opt = restore_adamw_state(r, params, c.config.adamw, adamw_steps);
  r.restore_history(c.state.g, c.state.losses, c.state.step);
  r.reject_unexpected();
  c.state.net = std::move(net);
  return c;
}

std::vector<std::string> sample_recurrent(RecurrentCheckpoint& c, std::int64_t count, std::uint64_t seed) {
  const auto last_logits = [&](const at::Tensor& X) { return c.state.net.logits(X).select(1, X.size(1) - 1); };
  return sample_sequences(last_logits, data::Vocab::from_chars(c.vocab), c.config.model.block_size, count, seed);
}

}  // namespace bpn::train
