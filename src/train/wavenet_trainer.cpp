#include "train/wavenet_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <map>
#include <memory>

#include "model/params.h"
#include "verify/graph.h"

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
void sgd(models::WaveNet& net, const layers::NamedTensors& grads, double lr) {
  std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  for (auto& [name, p] : net.parameters()) p->add_(by_name.at(name), -lr);  // p.data += -lr * p.grad
}
}  // namespace

float wavenet_manual_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train,
                          const WaveNetInspect& inspect) {
  c10::InferenceMode no_autograd;
  const model::Batch b = model::draw_batch(train.X, train.Y, cfg.batch_size, s.g);
  const float loss = s.net.forward(b.Xb, b.Yb).loss.item<float>();
  const layers::NamedTensors grads = s.net.backward();
  if (inspect) inspect(s.net, b, grads);
  sgd(s.net, grads, cfg.lr_at(s.step));
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

StepCheck check_wavenet_step(const models::WaveNet& before, const model::Batch& batch,
                             const layers::NamedTensors& applied) {
  c10::InferenceMode autograd_on(false);
  const at::Tensor Xb = batch.Xb.clone(), Yb = batch.Yb.clone();
  const at::ScalarType dtype = const_cast<models::WaveNet&>(before).parameters().front().second->scalar_type();
  const verify::GraphFactory make = [&](at::ScalarType d) {
    auto copy = std::make_shared<models::WaveNet>(before, d);
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
  StepCheck out;
  for (verify::Row& row : verify::compare_graph(make, dtype).rows) {
    verify::judge(row, false);
    const double ratio = row.accuracy.bound > 0 ? row.accuracy.error / row.accuracy.bound : 0.0;
    if (!(ratio <= out.worst_ratio)) {
      out.worst_ratio = ratio;
      out.worst_row = row.cmp.name;
    }
    if (!row.pass) {
      out.pass = false;
      out.detail += (out.detail.empty() ? "" : "; ") + row.cmp.name + ": " + row.note;
    }
  }
  return out;
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

}  // namespace bpn::train
