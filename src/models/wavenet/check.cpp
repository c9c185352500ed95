#include "models/wavenet/check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <memory>

#include "models/mlp/params.h"
#include "util/errors.h"
#include "verify/graph.h"

namespace bpn::verify {

namespace {
// The lecture's setup: g = Generator(seed) draws the parameters, then the batch.
struct WaveNetSetup {
  models::WaveNetConfig config;
  models::WaveNet model;
  model::Batch batch;
};
WaveNetSetup wavenet_setup(const data::Dataset& data, const WaveNetCheckConfig& cfg) {
  if (cfg.batch_size < 2) {
    throw InputError("batch size " + std::to_string(cfg.batch_size) +
                     " is too small: BatchNorm's variance divides by n-1, so use a batch of at least 2");
  }
  WaveNetSetup s;
  s.config = cfg.model;
  s.config.vocab_size = data.vocab.size();
  s.config.block_size = data.block_size;
  at::Generator g = at::detail::createCPUGenerator(s.config.seed);
  s.model = models::WaveNet(s.config, g);
  s.batch = model::draw_batch(data.train.X, data.train.Y, cfg.batch_size, g);
  return s;
}
GraphFactory wavenet_factory(const models::WaveNet& model, const model::Batch& batch,
                             const layers::BackwardTable* table) {
  auto original = std::make_shared<models::WaveNet>(model, at::kFloat);  // the setup draws in float32
  auto shared = std::make_shared<model::Batch>(batch);
  return [original, shared, table](at::ScalarType dtype) {
    auto copy = std::make_shared<models::WaveNet>(*original, dtype);
    copy->set_table(table);
    GraphRun run;
    for (auto& [name, t] : copy->parameters()) {
      t->set_requires_grad(true);
      run.parameters.emplace_back(name, *t);
    }
    models::WaveNet::Forward f = copy->forward(shared->Xb, shared->Yb);
    run.intermediates = f.outputs;
    run.loss = f.loss;
    run.manual_backward = [copy] { return copy->backward(); };
    return run;
  };
}
}  // namespace

GraphFactory wavenet_graph_factory(const data::Dataset& data, const WaveNetCheckConfig& cfg) {
  const WaveNetSetup s = wavenet_setup(data, cfg);
  return wavenet_factory(s.model, s.batch, cfg.table);
}

CheckReport run_wavenet_check(const data::Dataset& data, const WaveNetCheckConfig& cfg) {
  const WaveNetSetup setup = wavenet_setup(data, cfg);
  const models::WaveNetConfig& mc = setup.config;
  const models::WaveNet& model = setup.model;
  const model::Batch& batch = setup.batch;

  CheckReport r;
  r.env = current_environment(cfg.dtype, at::kCPU);
  r.config = mc.to_json();
  r.config["batch_size"] = cfg.batch_size;
  r.config["train_rows"] = data.train.rows();
  r.train_rows = data.train.rows();
  r.dev_rows = data.dev.rows();
  r.test_rows = data.test.rows();
  const auto ix = batch.ix.contiguous();
  r.ix.assign(ix.data_ptr<std::int64_t>(), ix.data_ptr<std::int64_t>() + ix.numel());

  const GraphFactory make = wavenet_factory(model, batch, cfg.table);
  const GraphComparison cmp = compare_graph(make, cfg.dtype);
  r.loss = cmp.loss;
  r.exercises.push_back(
      {1, "WaveNet (makemore part 5): every layer output and every parameter, backpropagated by hand", cmp.rows});
  return r;
}

GradcheckReport run_wavenet_gradcheck(const data::Dataset& data, const WaveNetCheckConfig& cfg) {
  const WaveNetSetup setup = wavenet_setup(data, cfg);
  const models::WaveNet& model = setup.model;
  const model::Batch& batch = setup.batch;
  GradcheckReport report;
  report.env = current_environment(cfg.dtype, at::kCPU);
  report.tolerance = gradcheck_tolerance(cfg.dtype);

  // Manual and autograd gradients in the run's dtype, from one forward.
  models::WaveNet run(model, cfg.dtype);
  run.set_table(cfg.table);
  std::map<std::string, at::Tensor> autograd;
  layers::NamedTensors manual;
  {
    at::AutoGradMode grad_on(true);
    for (auto& [name, t] : run.parameters()) t->set_requires_grad(true);
    models::WaveNet::Forward f = run.forward(batch.Xb, batch.Yb);
    for (auto& [name, t] : f.outputs) t.retain_grad();
    f.loss.backward();
    for (auto& [name, t] : f.outputs) autograd[name] = t.grad();
    for (auto& [name, t] : run.parameters()) autograd[name] = t->grad();
    manual = run.backward();
  }
  // Numeric gradients in float64, no autograd.
  at::NoGradGuard no_grad;
  models::WaveNet m64(model, at::kDouble);
  std::map<std::string, at::Tensor> values;
  for (auto& [name, t] : m64.forward(batch.Xb, batch.Yb).outputs) values[name] = t.contiguous();
  for (const auto& [name, dmanual] : manual) {
    at::Tensor* param = nullptr;
    for (auto& [pname, t] : m64.parameters()) {
      if (pname == name) param = t;
    }
    at::Tensor numeric;
    if (param) {
      *param = param->contiguous();
      numeric = central_difference([&] { return m64.forward(batch.Xb, batch.Yb).loss.item<double>(); }, *param,
                                   report.tolerance.eps);
    } else {
      at::Tensor perturbed = values.at(name).clone();
      const std::string target = name;
      const layers::Sequential::Hook hook = [&](const std::string& step, at::Tensor& value) {
        if (step == target) value = perturbed;
      };
      numeric = central_difference([&] { return m64.forward(batch.Xb, batch.Yb, hook).loss.item<double>(); }, perturbed,
                                   report.tolerance.eps);
    }
    report.rows.push_back(
        compare_three("WaveNet (makemore part 5)", name, dmanual, autograd.at(name), numeric, report.tolerance));
  }
  report.pass = true;
  for (const auto& r : report.rows) report.pass = report.pass && r.manual_pass && r.autograd_pass;
  return report;
}

std::map<std::string, std::set<std::string>> wavenet_known_rows(const nlohmann::json& config) {
  models::WaveNetConfig mc;
  mc.vocab_size = config.value("vocab_size", mc.vocab_size);
  mc.block_size = config.value("block_size", mc.block_size);
  mc.n_embd = config.value("n_embd", mc.n_embd);
  mc.n_hidden = config.value("n_hidden", mc.n_hidden);
  at::Generator g = at::detail::createCPUGenerator(0);
  models::WaveNet net(mc, g);
  std::set<std::string> names;
  for (const auto& n : net.net.output_names()) names.insert(n);
  for (const auto& [n, t] : net.parameters()) names.insert(n);
  // exercise2: `check`'s training step (train::wavenet_step_exercise): the same rows and the updates
  std::set<std::string> step = names;
  for (const auto& [n, t] : net.parameters()) step.insert("step:" + n);
  return {{"exercise1", names}, {"exercise2", step}};
}

}  // namespace bpn::verify
