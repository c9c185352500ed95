#include "models/wavenet/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "models/mlp/params.h"
#include "train/checkpoint_file.h"
#include "train/run.h"
#include "train/safetensors.h"
#include "train/sample.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/graph.h"
#include "verify/report.h"

namespace bpn::train {

WaveNetState init_wavenet(const WaveNetTrainConfig& cfg, const data::Dataset& data) {
  models::WaveNetConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data.block_size;
  at::Generator g = at::detail::createCPUGenerator(mc.seed);
  models::WaveNet net(mc, g);
  return {std::move(net), std::move(g), 0, {}};
}

namespace {
// p.data += -lr * p.grad, unless a gradient is missing or not of its parameter's shape (then nothing
// is updated); returns "" or what is wrong (train::gradient_shape_problem)
std::string sgd(models::WaveNet& net, const layers::NamedTensors& grads, double lr) {
  layers::NamedTensors params;
  for (auto& [name, p] : net.parameters()) params.emplace_back(name, *p);
  std::string problem = train::gradient_shape_problem(params, grads);
  if (!problem.empty()) return problem;
  std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  for (auto& [name, p] : params) p.add_(by_name.at(name), -lr);
  return problem;
}
}  // namespace

float wavenet_manual_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train,
                          const WaveNetInspect& inspect) {
  c10::InferenceMode no_autograd;
  const model::Batch b = model::draw_batch(train.X, train.Y, cfg.batch_size, s.g);
  const float loss = s.net.forward(b.Xb, b.Yb).loss.item<float>();
  const layers::NamedTensors grads = s.net.backward();
  const double lr = cfg.lr_at(s.step);
  std::optional<models::WaveNet> before;
  if (inspect) before.emplace(s.net, s.net.parameters().front().second->scalar_type());
  const std::string problem = sgd(s.net, grads, lr);
  if (inspect) inspect(WaveNetStep{*before, b, grads, s.net, lr});
  if (!problem.empty()) throw TrainingFailure("step " + std::to_string(s.step) + ": " + problem);
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

float wavenet_autograd_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train) {
  const model::Batch b = model::draw_batch(train.X, train.Y, cfg.batch_size, s.g);
  for (auto& [name, p] : s.net.parameters()) p->set_requires_grad(true);
  const at::Tensor loss = s.net.forward(b.Xb, b.Yb).loss;
  loss.backward();
  {
    at::NoGradGuard no_grad;
    const double lr = cfg.lr_at(s.step);
    for (auto& [name, p] : s.net.parameters()) {
      p->add_(p->grad(), -lr);
      p->mutable_grad() = at::Tensor();
    }
  }
  for (auto& [name, p] : s.net.parameters()) *p = p->detach();
  const float value = loss.item<float>();
  s.losses.push_back(value);
  ++s.step;
  return value;
}

StepCheck check_wavenet_step(const WaveNetStep& step) {
  c10::InferenceMode autograd_on(false);
  const at::Tensor Xb = step.batch.Xb.clone(), Yb = step.batch.Yb.clone();
  auto& before = const_cast<models::WaveNet&>(step.before);
  const at::ScalarType dtype = before.parameters().front().second->scalar_type();
  const layers::NamedTensors& applied = step.grads;
  const verify::GraphFactory make = [&](at::ScalarType d) {
    auto copy = std::make_shared<models::WaveNet>(step.before, d);
    verify::GraphRun run;
    for (auto& [name, t] : copy->parameters()) {
      t->set_requires_grad(true);
      run.parameters.emplace_back(name, *t);
    }
    models::WaveNet::Forward f = copy->forward(Xb, Yb);
    run.intermediates = f.outputs;
    run.loss = f.loss;
    run.manual_backward = [&applied] { return applied; };
    return run;
  };
  std::vector<verify::Row> rows = verify::compare_graph(make, dtype).rows;
  // The update: p_after against p - lr * grad in tensor ops, from the gradient the step applied
  verify::NamedTensorList p_before, p_after;
  for (auto& [name, t] : before.parameters()) p_before.emplace_back(name, *t);
  for (auto& [name, t] : const_cast<models::WaveNet&>(step.after).parameters()) p_after.emplace_back(name, *t);
  for (verify::Row& row : verify::update_rows(p_before, applied, p_after, verify::sgd_reference(step.lr))) {
    rows.push_back(std::move(row));
  }
  return summarize(std::move(rows));
}

verify::ExerciseReport wavenet_step_exercise(const data::Dataset& data, const WaveNetTrainConfig& cfg,
                                             at::ScalarType dtype) {
  WaveNetState s = init_wavenet(cfg, data);
  s.net = models::WaveNet(s.net, dtype);
  verify::ExerciseReport ex{2,
                            "The training step as `train --arch wavenet` runs it (training forward, applied gradients, "
                            "SGD update)",
                            {}};
  wavenet_manual_step(s, cfg, data.train, [&](const WaveNetStep& step) { ex.rows = check_wavenet_step(step).rows; });
  return ex;
}

double wavenet_split_loss(models::WaveNet& net, const data::Split& split) {
  if (split.rows() == 0) return std::nan("");
  c10::InferenceMode no_autograd;
  net.net.set_training(false);
  double total = 0.0;
  const std::int64_t chunk = 10000;
  for (std::int64_t start = 0; start < split.rows(); start += chunk) {
    const std::int64_t len = std::min(chunk, split.rows() - start);
    const at::Tensor logits = net.logits(split.X.narrow(0, start, len));
    total += at::cross_entropy_loss(logits.to(at::kDouble), split.Y.narrow(0, start, len)).item<double>() *
             static_cast<double>(len);
  }
  net.net.set_training(true);
  return total / static_cast<double>(split.rows());
}

// ---- Checkpoints --------------------------------------------------------------------------------

namespace {
nlohmann::json config_json(const WaveNetTrainConfig& c) {
  nlohmann::json j = c.model.to_json();
  j["batch_size"] = c.batch_size;
  j["lr"] = c.lr;
  j["lr_decayed"] = c.lr_decayed;
  j["decay_step"] = c.decay_step;
  return j;
}
}  // namespace

void save_wavenet_checkpoint(const std::string& dir, const WaveNetState& s, const WaveNetTrainConfig& cfg,
                             const data::Dataset& data) {
  // The model's sizes as built: vocab_size and block_size come from the data (init_*), not from cfg
  WaveNetTrainConfig saved = cfg;
  saved.model = s.net.config;
  SafeTensors st = checkpoint_base("wavenet", config_json(saved), data.vocab, "train_rows", data.train.rows(),
                                   data_fingerprint(data), s.step, s.g, s.losses);
  auto& net = const_cast<models::WaveNet&>(s.net);
  for (auto& [name, t] : net.parameters()) st.tensors.emplace_back(name, *t);
  for (auto& [name, t] : net.net.buffers()) st.tensors.emplace_back(name, *t);
  write_checkpoint(dir, st);
}

WaveNetCheckpoint load_wavenet_checkpoint(const std::string& dir) {
  CheckpointReader r(dir, "wavenet", "pass the --out directory of a `bpninja train --arch wavenet` run");
  WaveNetCheckpoint c;
  try {
    const nlohmann::json j = r.config();
    c.config.model.vocab_size = j.at("vocab_size").get<std::int64_t>();
    c.config.model.block_size = j.at("block_size").get<std::int64_t>();
    c.config.model.n_embd = j.at("n_embd").get<std::int64_t>();
    c.config.model.n_hidden = j.at("n_hidden").get<std::int64_t>();
    c.config.model.seed = j.at("seed").get<std::uint64_t>();
    c.config.batch_size = j.at("batch_size").get<std::int64_t>();
    c.config.lr = j.at("lr").get<double>();
    c.config.lr_decayed = j.at("lr_decayed").get<double>();
    c.config.decay_step = j.at("decay_step").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    r.fail(std::string("inconsistent metadata (") + e.what() + ")");
  }
  c.vocab = r.vocab();
  c.train_rows = r.integer("train_rows");
  c.data_fingerprint = r.optional_meta("data_fingerprint");
  c.state.step = r.integer("step");
  if (static_cast<std::int64_t>(c.vocab.size()) != c.config.model.vocab_size || c.config.model.n_embd < 1 ||
      c.config.model.n_hidden < 1 || c.config.model.n_embd > 4096 || c.config.model.n_hidden > 4096 ||
      c.config.model.block_size < 2 || c.config.model.block_size > 1024) {
    r.fail("inconsistent metadata (sizes out of range or a vocabulary of the wrong size)");
  }
  at::Generator g = at::detail::createCPUGenerator(0);
  models::WaveNet net(c.config.model, g);
  for (auto& [name, t] : net.parameters()) r.restore(name, t);
  for (auto& [name, t] : net.net.buffers()) r.restore(name, t);
  r.restore_history(c.state.g, c.state.losses, c.state.step);
  r.reject_unexpected();
  c.state.net = std::move(net);
  return c;
}

std::vector<std::string> sample_wavenet(WaveNetCheckpoint& c, std::int64_t count, std::uint64_t seed,
                                        std::int64_t max_length) {
  c.state.net.net.set_training(false);  // eval mode: the running statistics
  return sample_with([&](const at::Tensor& X) { return c.state.net.logits(X); }, data::Vocab::from_chars(c.vocab),
                     c.config.model.block_size, count, seed, max_length);
}

}  // namespace bpn::train
