#include "models/mlp/check.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "kernel/mlp_kernel.h"
#include "models/mlp/backward.h"
#include "models/mlp/forward.h"
#include "models/mlp/params.h"
#include "train/run.h"
#include "util/errors.h"
#include "verify/graph.h"
#include "verify/sections.h"

namespace bpn::verify {

namespace {

using NamedTensors = std::map<std::string, at::Tensor>;

// The chunked graph in one dtype, with autograd's gradient of every intermediate and parameter.
struct Chunked {
  model::Params params;
  model::ChunkedForward f;
  NamedTensors grad;
};

Chunked chunked_graph(const model::Params& p, const model::Batch& b, at::ScalarType dtype) {
  at::AutoGradMode grad_on(true);
  Chunked c;
  c.params = p.to(dtype);
  c.params.set_requires_grad(true);
  c.f = model::chunked_forward(c.params, b.Xb, b.Yb);
  for (auto& [name, t] : c.f.intermediates()) t.retain_grad();
  c.f.loss.backward();
  for (const auto& [name, t] : c.f.intermediates()) c.grad[name] = t.grad();
  for (const auto& [name, t] : c.params.named()) c.grad[name] = t->grad();
  return c;
}

// The experiment's three chunked graphs: the run's dtype (the manual backward runs from its forward)
// and float32 / float64 for the accuracy rule (one of them is the run's).
struct Graphs {
  const Chunked* run;
  const Chunked* f32;
  const Chunked* f64;
};

template <typename Fn>
Reference reference_of(const Graphs& g, Fn&& fn, double noise_scale = 0.0) {
  return {fn(*g.run), fn(*g.f32), fn(*g.f64), noise_scale};
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

// BatchNorm's closed form subtracts two batch sums from n*dy; where they nearly cancel (small batches:
// at n = 2 the true dhprebn is O(eps)) its computed value is rounding noise of the terms, and bnraw
// itself carries the rounding of (hprebn - mean), which cancels when the batch varies little around a
// large mean. The magnitudes |bngain*bnvar_inv|/n * (n|dy| + sum|dy| + n/(n-1) r sum(|dy| r)), with
// r = |bnraw| + |hprebn|*bnvar_inv the magnitude bnraw is computed from, [n, H] in float64, are the
// scale of that noise (batchnorm_noise_scales pushes it to the layer below).
at::Tensor batchnorm_terms(const at::Tensor& dy_, const at::Tensor& raw_, const at::Tensor& inv_,
                           const at::Tensor& gain_, const at::Tensor& hprebn_) {
  const at::Tensor dy = dy_.detach().to(at::kDouble).abs(), inv = inv_.detach().to(at::kDouble).abs();
  const at::Tensor r = raw_.detach().to(at::kDouble).abs() + hprebn_.detach().to(at::kDouble).abs() * inv;
  const double n = static_cast<double>(dy.size(0));
  const at::Tensor k = gain_.detach().to(at::kDouble).abs() * inv / n;
  return k * (n * dy + dy.sum({0}, true) + n / std::max(n - 1.0, 1.0) * r * (dy * r).sum({0}, true));
}

// Exercise 1 through the generic verification (verify/graph.h): the chunked forward with every
// intermediate recorded, and chunked_backward as the manual backward.
ExerciseReport exercise1(const model::Params& params, const model::Batch& b, const model::BackwardTable& table,
                         at::ScalarType dtype) {
  ExerciseReport ex{1, "Exercise 1: every step of the chunked forward, backpropagated by hand", {}};
  const GraphFactory make = chunked_graph_factory(params, b, table);
  const NoiseScales noise = [](const GraphRun&, const std::map<std::string, at::Tensor>& g64) {
    return chunked_noise_scales(g64);
  };
  ex.rows = compare_graph(make, dtype, noise).rows;
  return ex;
}

at::Tensor autograd_cross_entropy(const at::Tensor& logits, const at::Tensor& Yb) {
  at::AutoGradMode grad_on(true);
  at::Tensor leaf = logits.detach().clone().set_requires_grad(true);
  model::cross_entropy_forward(leaf, Yb).backward();
  return leaf.grad();
}

ExerciseReport exercise2(const Graphs& g, const model::Batch& b, const model::BackwardTable& table,
                         std::optional<double> goal, double& loss_fast_diff) {
  ExerciseReport ex{2, "Exercise 2: cross-entropy in one go, dlogits = (softmax(logits) - onehot(Yb)) / n", {}};
  const at::Tensor logits = g.run->f.logits.detach();
  at::Tensor dlogits, dlogits_ops;
  {
    at::NoGradGuard no_grad;
    loss_fast_diff =
        std::fabs(model::cross_entropy_forward(logits, b.Yb).item<double>() - g.run->f.loss.item<double>());
    dlogits = table.cross_entropy_backward(logits, b.Yb);
    dlogits_ops = table.cross_entropy_backward_ops(logits, b.Yb);
  }
  const auto chunked = reference_of(g, [](const Chunked& c) { return c.grad.at("logits"); });
  ex.rows.push_back(make_row("logits", dlogits, chunked, goal));
  ex.rows.push_back(make_row("logits@ops", dlogits_ops, chunked, goal));
  // The same closed form against autograd through torch's own cross_entropy.
  ex.rows.push_back(make_row("logits@cross_entropy", dlogits, reference_of(g, [&](const Chunked& c) {
                               return autograd_cross_entropy(c.f.logits, b.Yb);
                             })));
  return ex;
}

// Autograd's dhprebn through a one-expression BatchNorm (or at::batch_norm), for upstream dhpreact.
at::Tensor autograd_dhprebn(const model::Params& p, const at::Tensor& hprebn, const at::Tensor& dhpreact,
                            std::optional<model::Variance> variance) {
  at::AutoGradMode grad_on(true);
  at::Tensor leaf = hprebn.detach().clone().set_requires_grad(true);
  const at::Tensor gain = p.bngain.detach(), bias = p.bnbias.detach();
  at::Tensor out;
  if (variance) {
    out = model::hpreact_fast(leaf, gain, bias, *variance);
  } else {  // torch's batch_norm in training mode normalises with the biased variance
    out = at::batch_norm(leaf, gain.view({-1}), bias.view({-1}), {}, {},
                         /*training=*/true, /*momentum=*/0.1, model::kBnEps, /*cudnn_enabled=*/false);
  }
  out.backward(dhpreact);
  return leaf.grad();
}

ExerciseReport exercise3(const Graphs& g, const model::BackwardTable& table, std::optional<double> goal,
                         double& hpreact_fast_maxdiff) {
  using model::Variance;
  ExerciseReport ex{3, "Exercise 3: BatchNorm in one go, closed-form dhprebn", {}};
  const model::ChunkedForward& f = g.run->f;
  const at::Tensor hprebn = f.hprebn.detach(), dhpreact = f.hpreact.grad();
  const at::Tensor bngain = g.run->params.bngain.detach(), bnbias = g.run->params.bnbias.detach();
  at::NoGradGuard no_grad;
  hpreact_fast_maxdiff = max_abs_diff(model::hpreact_fast(hprebn, bngain, bnbias), f.hpreact);
  // Against the notebook's chunked graph (unbiased variance), the CPU loop and the tensor ops.
  const Chunked& c64 = *g.f64;
  const double noise =
      batchnorm_terms(c64.f.hpreact.grad(), c64.f.bnraw, c64.f.bnvar_inv, c64.params.bngain, c64.f.hprebn)
          .max()
          .item<double>();
  const auto chunked = reference_of(
      g, [](const Chunked& c) { return c.grad.at("hprebn"); }, noise);
  const at::Tensor bnraw = f.bnraw.detach(), bnvar_inv = f.bnvar_inv.detach();
  ex.rows.push_back(make_row(
      "hprebn", table.batchnorm_layer_backward(dhpreact, bnraw, bnvar_inv, bngain, Variance::kUnbiased).dhprebn,
      chunked, goal));
  ex.rows.push_back(make_row(
      "hprebn@ops", table.batchnorm_layer_backward_ops(dhpreact, bnraw, bnvar_inv, bngain, Variance::kUnbiased).dhprebn,
      chunked, goal));
  // Both variance conventions from the training forward (table.batchnorm_forward), each against
  // autograd through its own one-expression forward; the biased one also against torch's batch_norm.
  for (Variance v : {Variance::kUnbiased, Variance::kBiased}) {
    const auto bn = table.batchnorm_forward(hprebn, bngain, bnbias, v);
    const at::Tensor dhprebn = table.batchnorm_layer_backward(dhpreact, bn.bnraw, bn.bnvar_inv, bngain, v).dhprebn;
    auto reference = [&](std::optional<Variance> variance) {
      return reference_of(
          g, [&](const Chunked& c) { return autograd_dhprebn(c.params, c.f.hprebn, c.f.hpreact.grad(), variance); },
          noise);
    };
    ex.rows.push_back(make_row("hprebn@" + model::variance_name(v), dhprebn, reference(v), goal));
    if (v == Variance::kBiased)
      ex.rows.push_back(make_row("hprebn@batch_norm", dhprebn, reference(std::nullopt), goal));
  }
  return ex;
}

ExerciseReport exercise4(const model::Params& params, const model::Batch& batch, const model::BackwardTable& table,
                         const kernel::KernelTable& kernel_table) {
  ExerciseReport ex{4,
                    "Exercise 4: one training step as `train` runs it (loop forward, applied gradients, SGD "
                    "update), on the tensor-op path and on the kernel (kernel:*)",
                    {}};
  StepRecord s;
  s.batch = batch;
  s.lr = kStepLr;
  {
    at::NoGradGuard no_grad;
    s.before = params.to(params.C.scalar_type());
    s.forward = model::fused_forward(s.before, batch.Xb, batch.Yb, model::Variance::kUnbiased, {}, table);
    s.grads = model::fused_backward(s.before, s.forward, batch.Xb, batch.Yb, model::Variance::kUnbiased, table);
    s.after = s.before.to(s.before.C.scalar_type());
    for (auto& [name, t] : s.after.named()) *t = t->clone();
    std::vector<at::Tensor> ps, gs;
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (const auto& [name, t] : s.after.named()) {
      ps.push_back(*t);
      named.emplace_back(name, *t);
    }
    for (const auto& [name, t] : s.grads.params.named()) gs.push_back(t);
    // A gradient of the wrong shape is not applied; verify_step reports it (model/backward.h)
    if (train::gradient_shape_problem(named, s.grads.params.named()).empty()) table.sgd_update(ps, gs, s.lr);
  }
  ex.rows = verify_step(s);
  // The step `train` runs by default (--path kernel): the raw-memory kernel (float32, CPU) from the same
  // parameters and batch, judged by the same rows, named "kernel:<row>" (docs/derivations.md#the-training-kernel)
  if (params.C.device().is_cpu()) {
    StepRecord k;
    k.batch = batch;
    k.lr = kStepLr;
    k.before = params.to(at::kFloat);
    for (auto& [name, t] : k.before.named()) *t = t->contiguous().clone();
    model::Params p = k.before.to(at::kFloat);
    for (auto& [name, t] : p.named()) *t = t->clone();
    kernel::MlpStepKernel step_kernel(p, batch.Xb.size(0), kernel_table);
    step_kernel.step(p, batch.Xb.contiguous(), batch.Yb.contiguous(), static_cast<float>(kStepLr));
    k.forward = step_kernel.forward();
    k.grads = step_kernel.grads();
    k.after = p;
    for (Row& row : verify_step(k)) {
      row.cmp.name = kKernelRowPrefix + row.cmp.name;
      ex.rows.push_back(std::move(row));
    }
  }
  return ex;
}

}  // namespace

GraphFactory chunked_graph_factory(const model::Params& params, const model::Batch& batch,
                                   const model::BackwardTable& table) {
  auto shared = std::make_shared<std::pair<model::Params, model::Batch>>(params, batch);
  return [shared, &table](at::ScalarType d) {
    auto c = std::make_shared<Chunked>();
    c->params = shared->first.to(d);
    c->params.set_requires_grad(true);
    const model::Batch& b = shared->second;
    c->f = model::chunked_forward(c->params, b.Xb, b.Yb);
    GraphRun r;
    r.intermediates = c->f.intermediates();
    for (const auto& [name, t] : c->params.named()) r.parameters.emplace_back(name, *t);
    r.loss = c->f.loss;
    r.manual_backward = [c, shared, &table] {
      return model::chunked_backward(c->params, c->f, shared->second.Xb, shared->second.Yb, table).named();
    };
    return r;
  };
}

bool is_notebook_configuration(const CheckConfig& c, const data::Dataset& data) {
  return c.n_embd == 10 && c.n_hidden == 64 && c.batch_size == 32 && c.seed == model::kNotebookSeed && !c.params &&
         data.block_size == 3 && data::is_names_txt(data);
}

Experiment make_experiment(const data::Dataset& data, const CheckConfig& cfg) {
  if (cfg.batch_size < 2) {
    throw InputError("batch size " + std::to_string(cfg.batch_size) +
                     " is too small: BatchNorm's variance divides by n-1, so use a batch of at least 2");
  }
  model::ModelConfig mc;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data.block_size;
  mc.n_embd = cfg.n_embd;
  mc.n_hidden = cfg.n_hidden;
  mc.seed = cfg.seed;
  mc.dtype = cfg.dtype;
  mc.device = cfg.device;
  auto [params, g] = model::init_params(mc);
  model::Batch batch = model::draw_batch(data.train.X, data.train.Y, cfg.batch_size, g, cfg.device);
  if (cfg.params) {  // check --params: the given weights, in the run's dtype, on its device
    if (cfg.params->C.sizes() != params.C.sizes() || cfg.params->W1.sizes() != params.W1.sizes()) {
      throw InputError("--params: the weights' shapes do not match n_embd " + std::to_string(cfg.n_embd) +
                       " and n_hidden " + std::to_string(cfg.n_hidden));
    }
    params = cfg.params->to(cfg.dtype);
    for (auto& [name, t] : params.named()) *t = t->to(cfg.device);
  }
  return {std::move(params), std::move(batch)};
}

CheckReport run_check(const data::Dataset& data, const CheckConfig& cfg) {
  auto [params, batch] = make_experiment(data, cfg);
  const model::BackwardTable& table = cfg.table ? *cfg.table : model::hand_derived();
  CheckReport r;
  r.env = current_environment(cfg.dtype, cfg.device);
  r.config = {{"vocab_size", data.vocab.size()}, {"block_size", data.block_size}, {"n_embd", cfg.n_embd},
              {"n_hidden", cfg.n_hidden},        {"batch_size", cfg.batch_size},  {"seed", cfg.seed},
              {"train_rows", data.train.rows()}};
  if (cfg.params) r.config["params"] = cfg.params_id;
  r.train_rows = data.train.rows();
  r.dev_rows = data.dev.rows();
  r.test_rows = data.test.rows();
  const bool notebook = is_notebook_configuration(cfg, data);
  r.extra["notebook_configuration"] = notebook;
  const std::optional<double> goal = notebook ? std::optional<double>(kFusedGradLimit) : std::nullopt;

  const auto ix = batch.ix.contiguous();
  r.ix.assign(ix.data_ptr<std::int64_t>(), ix.data_ptr<std::int64_t>() + ix.numel());

  // The chunked graph with autograd, in the run's dtype and in the other one (the parameters are
  // float32 draws, so converting them either way is exact).
  const Chunked run = chunked_graph(params, batch, cfg.dtype);
  const Chunked other = chunked_graph(params, batch, cfg.dtype == at::kDouble ? at::kFloat : at::kDouble);
  const Graphs g{&run, cfg.dtype == at::kFloat ? &run : &other, cfg.dtype == at::kDouble ? &run : &other};
  r.loss = run.f.loss.item<double>();

  if (cfg.exercises.count(1)) r.exercises.push_back(exercise1(params, batch, table, cfg.dtype));
  // The lecture's goals for the fast forwards of Exercises 2 and 3, asserted in its configuration only
  const std::string not_applied = " (the lecture's goal applies to its configuration only)";
  Goal loss_fast{2, "loss_fast - loss", "loss_fast_diff", 0.0, kFastForwardLimit, notebook, not_applied};
  Goal hpreact_fast{
      3, "max |hpreact_fast - hpreact|", "hpreact_fast_maxdiff", 0.0, kFastForwardLimit, notebook, not_applied};
  if (cfg.exercises.count(2)) r.exercises.push_back(exercise2(g, batch, table, goal, loss_fast.value));
  if (cfg.exercises.count(3)) r.exercises.push_back(exercise3(g, table, goal, hpreact_fast.value));
  r.goals = {loss_fast, hpreact_fast};
  if (cfg.exercises.count(4)) r.exercises.push_back(exercise4(params, batch, table, *cfg.kernel_table));
  return r;
}

const std::map<std::string, std::set<std::string>>& known_rows() {
  static const std::map<std::string, std::set<std::string>> rows = [] {
    std::map<std::string, std::set<std::string>> m;
    for (const auto& [name, t] : model::ChunkedGrads{}.named()) m["exercise1"].insert(name);
    m["exercise2"] = {"logits", "logits@ops", "logits@cross_entropy"};
    m["exercise3"] = {"hprebn", "hprebn@ops", "hprebn@unbiased", "hprebn@biased", "hprebn@batch_norm"};
    m["exercise4"] = {"forward:bnraw", "forward:bnvar_inv", "forward:hpreact"};
    for (const auto& [name, t] : model::FusedGrads{}.named()) m["exercise4"].insert(name);
    for (const auto& [name, t] : model::ParamGrads{}.named()) m["exercise4"].insert("step:" + name);
    const std::set<std::string> tensor_op_rows = m["exercise4"];
    for (const auto& row : tensor_op_rows) m["exercise4"].insert(kKernelRowPrefix + row);
    return m;
  }();
  return rows;
}

std::map<std::string, double> chunked_noise_scales(const std::map<std::string, at::Tensor>& g64) {
  return {{"logit_maxes", sum_noise_scale(g64.at("norm_logits"), 1)}, {"b1", sum_noise_scale(g64.at("hprebn"), 0)}};
}

std::map<std::string, double> batchnorm_noise_scales(const at::Tensor& dhpreact, const at::Tensor& bnraw,
                                                     const at::Tensor& bnvar_inv, const at::Tensor& bngain,
                                                     const at::Tensor& hprebn, const at::Tensor& embcat,
                                                     const at::Tensor& W1, const at::Tensor& emb, const at::Tensor& Xb,
                                                     const at::Tensor& C) {
  at::NoGradGuard no_grad;
  const at::Tensor terms = batchnorm_terms(dhpreact, bnraw, bnvar_inv, bngain, hprebn);
  auto abs64 = [](const at::Tensor& t) { return t.detach().to(at::kDouble).abs(); };
  const model::LinearGrads below = model::hprebn_backward(terms, abs64(embcat), abs64(W1));
  const at::Tensor demb = model::embcat_backward(below.dx, emb);
  const at::Tensor dC = model::emb_backward(demb, Xb, abs64(C));
  auto max_of = [](const at::Tensor& t) { return t.numel() ? t.max().item<double>() : 0.0; };
  return {{"hprebn", max_of(terms)}, {"embcat", max_of(below.dx)}, {"emb", max_of(demb)},
          {"W1", max_of(below.dW)},  {"b1", max_of(below.db)},     {"C", max_of(dC)}};
}

// ---- One training step ---------------------------------------------------------------------------

namespace {

struct FusedReference {
  model::Params params;
  model::FusedForward f;
  NamedTensors grad;
  model::BatchNormForward ops_forward;  // the op forward at the step's own hprebn, converted
};

// Autograd of the fused graph with the op forward (never the loops under test), in one dtype.
FusedReference fused_reference(const StepRecord& s, at::ScalarType dtype) {
  at::AutoGradMode grad_on(true);
  model::BackwardTable reference_table = model::hand_derived();
  reference_table.batchnorm_forward = model::batchnorm_forward_ops;
  FusedReference r;
  r.params = s.before.to(dtype);
  r.params.set_requires_grad(true);
  r.f = model::fused_forward(r.params, s.batch.Xb, s.batch.Yb, model::Variance::kUnbiased, {}, reference_table);
  for (at::Tensor* t : {&r.f.logits, &r.f.h, &r.f.bn.hpreact, &r.f.hprebn, &r.f.embcat, &r.f.emb}) t->retain_grad();
  r.f.loss.backward();
  r.grad = {{"logits", r.f.logits.grad()}, {"h", r.f.h.grad()},           {"hpreact", r.f.bn.hpreact.grad()},
            {"hprebn", r.f.hprebn.grad()}, {"embcat", r.f.embcat.grad()}, {"emb", r.f.emb.grad()}};
  for (const auto& [name, t] : r.params.named()) r.grad[name] = t->grad();
  at::NoGradGuard no_grad;
  r.ops_forward = model::batchnorm_forward_ops(s.forward.hprebn.detach().to(dtype), r.params.bngain.detach(),
                                               r.params.bnbias.detach());
  return r;
}

}  // namespace

std::vector<Row> verify_step(const StepRecord& s) {
  const at::ScalarType dtype = s.before.C.scalar_type();
  const FusedReference r32 = fused_reference(s, at::kFloat);
  const FusedReference r64 = fused_reference(s, at::kDouble);
  const FusedReference& run = dtype == at::kDouble ? r64 : r32;
  auto ref = [&](auto&& fn, double noise = 0.0) { return Reference{fn(run), fn(r32), fn(r64), noise}; };
  std::vector<Row> rows;
  // The forward the step ran (the CPU loops) against the op forward from the same hprebn.
  const std::vector<std::pair<std::string, at::Tensor>> forward = {
      {"bnraw", s.forward.bn.bnraw}, {"bnvar_inv", s.forward.bn.bnvar_inv}, {"hpreact", s.forward.bn.hpreact}};
  for (const auto& [name, t] : forward) {
    rows.push_back(make_row("forward:" + name, t, ref([&, n = name](const FusedReference& x) {
                              return n == "bnraw"       ? x.ops_forward.bnraw
                                     : n == "bnvar_inv" ? x.ops_forward.bnvar_inv
                                                        : x.ops_forward.hpreact;
                            })));
  }
  // The gradients the step applied, against autograd of the same parameters and batch. The gradients
  // at and below BatchNorm get the rounding scale of its closed form (batchnorm_noise_scales).
  const std::map<std::string, double> noise =
      batchnorm_noise_scales(r64.grad.at("hpreact"), r64.f.bn.bnraw, r64.f.bn.bnvar_inv, r64.params.bngain,
                             r64.f.hprebn, r64.f.embcat, r64.params.W1, r64.f.emb, s.batch.Xb, r64.params.C);
  for (const auto& [name, manual] : s.grads.named()) {
    const auto it = noise.find(name);
    rows.push_back(make_row(
        name, manual,
        ref([n = name](const FusedReference& x) { return x.grad.at(n); }, it == noise.end() ? 0.0 : it->second)));
  }
  // The update: p_after against p - lr * grad computed in tensor ops from the applied gradient.
  NamedTensorList before, after;
  for (const auto& [name, t] : s.before.named()) before.emplace_back(name, *t);
  for (const auto& [name, t] : s.after.named()) after.emplace_back(name, *t);
  for (Row& row : update_rows(before, s.grads.params.named(), after, sgd_reference(s.lr)))
    rows.push_back(std::move(row));
  for (auto& row : rows) judge(row, /*expect_exact=*/false);
  return rows;
}

}  // namespace bpn::verify
