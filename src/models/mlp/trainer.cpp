#include "models/mlp/trainer.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "kernel/mlp_eval.h"
#include "util/errors.h"

namespace bpn::train {

model::ModelConfig TrainConfig::model_config(const data::Dataset& data) const {
  model::ModelConfig mc;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data.block_size;
  mc.n_embd = n_embd;
  mc.n_hidden = n_hidden;
  mc.seed = seed;
  mc.dtype = dtype;
  return mc;
}

nlohmann::json TrainConfig::to_json() const {
  return {
      {"n_embd", n_embd}, {"n_hidden", n_hidden},     {"batch_size", batch_size}, {"seed", seed},
      {"lr", lr},         {"lr_decayed", lr_decayed}, {"decay_step", decay_step}, {"dtype", model::dtype_name(dtype)}};
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  try {
    c.n_embd = j.at("n_embd").get<std::int64_t>();
    c.n_hidden = j.at("n_hidden").get<std::int64_t>();
    c.batch_size = j.at("batch_size").get<std::int64_t>();
    c.seed = j.at("seed").get<std::uint64_t>();
    c.lr = j.at("lr").get<double>();
    c.lr_decayed = j.at("lr_decayed").get<double>();
    c.decay_step = j.at("decay_step").get<std::int64_t>();
    const auto dtype = j.at("dtype").get<std::string>();
    if (dtype == "float32") {
      c.dtype = at::kFloat;
    } else if (dtype == "float64") {
      c.dtype = at::kDouble;
    } else {
      throw InputError("unknown dtype '" + dtype + "'");
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("training config: ") + e.what());
  }
  if (c.n_embd < 1 || c.n_hidden < 1 || c.batch_size < 2 || c.decay_step < 0) {
    throw InputError("training config: sizes out of range");
  }
  return c;
}

TrainState init_state(const TrainConfig& cfg, const data::Dataset& data) {
  auto [params, g] = model::init_params(cfg.model_config(data));
  return {std::move(params), std::move(g), 0, {}};
}

float manual_step(TrainState& s, const TrainConfig& cfg, const data::Split& train,
                  const std::function<void(const StepTensors&)>& inspect, const model::BackwardTable& table,
                  verify::StepRecord* record) {
  c10::InferenceMode no_autograd;
  StepTensors t;
  t.batch = model::draw_batch(train.X, train.Y, cfg.batch_size, s.g);
  t.forward = model::fused_forward(s.params, t.batch.Xb, t.batch.Yb, model::Variance::kUnbiased, {}, table);
  t.grads = model::fused_backward(s.params, t.forward, t.batch.Xb, t.batch.Yb, model::Variance::kUnbiased, table);
  if (inspect) inspect(t);
  const double lr = cfg.lr_at(s.step);
  if (record) {
    record->before = s.params;
    for (auto& [name, p] : record->before.named()) *p = p->clone();
  }
  std::vector<at::Tensor> params, grads;
  std::vector<std::pair<std::string, at::Tensor>> named_params;
  for (const auto& [name, p] : s.params.named()) {
    params.push_back(*p);
    named_params.emplace_back(name, *p);
  }
  for (const auto& [name, g] : t.grads.params.named()) grads.push_back(g);
  // A gradient of the wrong shape (a bug in a backward function) is not applied: under --verify-every
  // the step check then reports it; without it the run stops with one line.
  const std::string shape_problem = train::gradient_shape_problem(named_params, t.grads.params.named());
  if (shape_problem.empty()) {
    table.sgd_update(params, grads, lr);
  } else if (!record) {
    throw std::runtime_error("the manual backward's gradients do not fit the parameters: " + shape_problem +
                             " (run with --verify-every 1 to see every gradient judged)");
  }
  if (record) {
    record->batch = t.batch;
    record->forward = t.forward;
    record->grads = t.grads;
    record->after = s.params;
    record->lr = lr;
  }
  const float loss = t.forward.loss.item<float>();
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

float kernel_step(TrainState& s, const TrainConfig& cfg, const data::Split& train, kernel::MlpStepKernel& k,
                  verify::StepRecord* record) {
  c10::InferenceMode no_autograd;
  // The batch as model::draw_batch draws it (the same stream of g), gathered inside the kernel.
  at::Tensor& ix = k.batch_rows();
  if (ix.numel() != cfg.batch_size) {
    throw InputError("the training kernel was made for batches of " + std::to_string(ix.numel()) + ", not " +
                     std::to_string(cfg.batch_size));
  }
  model::draw_rows(s.g, train.X.size(0), ix);
  const float lr = static_cast<float>(cfg.lr_at(s.step));
  if (record) {
    record->before = s.params;
    for (auto& [name, p] : record->before.named()) *p = p->clone();
  }
  const float loss = k.step_rows(s.params, train.X, train.Y, ix, lr);
  if (record) {
    record->batch = {ix.clone(), train.X.index_select(0, ix), train.Y.index_select(0, ix)};
    record->forward = k.forward();
    record->grads = k.grads();
    record->after = s.params;
    record->lr = cfg.lr_at(s.step);
  }
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

float autograd_step(TrainState& s, const TrainConfig& cfg, const data::Split& train) {
  const model::Batch batch = model::draw_batch(train.X, train.Y, cfg.batch_size, s.g);
  s.params.set_requires_grad(true);
  const auto forward = model::fused_forward(s.params, batch.Xb, batch.Yb);
  forward.loss.backward();
  {
    at::NoGradGuard no_grad;
    const double lr = cfg.lr_at(s.step);
    for (auto& [name, p] : s.params.named()) {
      p->add_(p->grad(), -lr);
      p->mutable_grad() = at::Tensor();
    }
  }
  s.params.set_requires_grad(false);
  const float loss = forward.loss.item<float>();
  s.losses.push_back(loss);
  ++s.step;
  return loss;
}

StepCheck check_step(const verify::StepRecord& record) {
  c10::InferenceMode autograd_on(false);  // callers may be inside a step's InferenceMode
  // The step ran under InferenceMode; autograd cannot save such tensors, so it gets clones.
  verify::StepRecord r = record;
  for (model::Params* p : {&r.before, &r.after}) {
    for (auto& [name, t] : p->named()) *t = t->clone();
  }
  r.batch.Xb = record.batch.Xb.clone();
  r.batch.Yb = record.batch.Yb.clone();
  return summarize(verify::verify_step(r));
}

bool all_finite(const model::Params& params) {
  for (const auto& [name, p] : params.named()) {
    if (!at::isfinite(*p).all().item<bool>()) return false;
  }
  return true;
}

namespace {
at::Tensor hprebn_of(const model::Params& p, const at::Tensor& X) {
  const at::Tensor emb = p.C.index({X});
  return emb.view({emb.size(0), -1}).matmul(p.W1) + p.b1;
}
}  // namespace

// The whole split in chunks of kEvalChunk rows (issue 14: the 182,625 training rows at once took
// 0.9 GB). Sums are accumulated in float64 across chunks, then rounded once to the run's dtype.
constexpr std::int64_t kEvalChunk = 8192;

BatchNormStats calibrate_batchnorm(const model::Params& params, const data::Split& split) {
  c10::InferenceMode no_autograd;
  const std::int64_t n = split.rows();
  at::Tensor sum = at::zeros({1, params.W1.size(1)}, params.W1.options().dtype(at::kDouble));
  for (std::int64_t i = 0; i < n; i += kEvalChunk) {
    const at::Tensor hprebn = hprebn_of(params, split.X.narrow(0, i, std::min(kEvalChunk, n - i)));
    sum += hprebn.to(at::kDouble).sum({0}, true);
  }
  const at::Tensor mean64 = sum / static_cast<double>(n);
  const at::Tensor bnmean = mean64.to(params.W1.scalar_type());
  at::Tensor squares = at::zeros_like(sum);
  for (std::int64_t i = 0; i < n; i += kEvalChunk) {
    const at::Tensor bndiff =
        hprebn_of(params, split.X.narrow(0, i, std::min(kEvalChunk, n - i))).to(at::kDouble) - mean64;
    squares += (bndiff * bndiff).sum({0}, true);
  }
  return {bnmean, (squares / static_cast<double>(n - 1)).to(params.W1.scalar_type())};
}

BatchNormStats kernel_calibrate_batchnorm(const model::Params& params, const data::Split& split) {
  kernel::BatchNormMoments m = kernel::calibrate_batchnorm(params, split.X.contiguous());
  return {m.mean, m.var};
}

double kernel_split_loss(const model::Params& params, const BatchNormStats& stats, const data::Split& split) {
  return kernel::mean_loss(params, stats.bnmean, stats.bnvar, split.X.contiguous(), split.Y.contiguous());
}

at::Tensor inference_logits(const model::Params& p, const BatchNormStats& stats, const at::Tensor& X) {
  c10::InferenceMode no_autograd;
  const at::Tensor hpreact =
      p.bngain * (hprebn_of(p, X) - stats.bnmean) * (stats.bnvar + model::kBnEps).pow(-0.5) + p.bnbias;
  return at::tanh(hpreact).matmul(p.W2) + p.b2;
}

double split_loss(const model::Params& params, const BatchNormStats& stats, const data::Split& split) {
  if (split.rows() == 0) return std::nan("");
  c10::InferenceMode no_autograd;
  const std::int64_t n = split.rows();
  double total = 0.0;  // the sum of the chunks' mean losses, each weighted by its rows
  for (std::int64_t i = 0; i < n; i += kEvalChunk) {
    const std::int64_t m = std::min(kEvalChunk, n - i);
    const at::Tensor logits = inference_logits(params, stats, split.X.narrow(0, i, m));
    total += model::cross_entropy_forward(logits, split.Y.narrow(0, i, m)).item<double>() * static_cast<double>(m);
  }
  return total / static_cast<double>(n);
}

}  // namespace bpn::train
