#include "models/wavenet/wavenet.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include "layers/batchnorm1d.h"
#include "layers/embedding.h"
#include "layers/flatten_consecutive.h"
#include "layers/linear.h"
#include "layers/tanh.h"
#include "util/errors.h"

namespace bpn::models {

nlohmann::json WaveNetConfig::to_json() const {
  return {{"arch", "wavenet"}, {"vocab_size", vocab_size}, {"block_size", block_size},
          {"n_embd", n_embd},  {"n_hidden", n_hidden},     {"seed", seed}};
}

WaveNet::WaveNet(const WaveNetConfig& c, at::Generator& g, at::ScalarType dtype) : config(c) {
  if (c.block_size < 2 || (c.block_size & (c.block_size - 1)) != 0) {
    throw InputError("the WaveNet needs a block size that is a power of two (got " + std::to_string(c.block_size) +
                     ")");
  }
  net.add(std::make_unique<layers::Embedding>(c.vocab_size, c.n_embd, g));
  std::int64_t width = c.n_embd;
  for (std::int64_t t = c.block_size; t > 1; t /= 2) {
    net.add(std::make_unique<layers::FlattenConsecutive>(2));
    net.add(std::make_unique<layers::Linear>(width * 2, c.n_hidden, /*bias=*/false, g));
    net.add(std::make_unique<layers::BatchNorm1d>(c.n_hidden));
    net.add(std::make_unique<layers::Tanh>());
    width = c.n_hidden;
  }
  auto last = std::make_unique<layers::Linear>(width, c.vocab_size, /*bias=*/true, g);
  last->weight.mul_(0.1);  // with torch.no_grad(): model.layers[-1].weight *= 0.1
  net.add(std::move(last));
  for (auto& [name, t] : net.parameters()) *t = t->to(dtype);
  for (auto& [name, t] : net.buffers()) *t = t->to(dtype);
}

WaveNet::WaveNet(const WaveNet& other, at::ScalarType dtype) : config(other.config) {
  at::Generator g = at::detail::createCPUGenerator(0);  // the draws are overwritten below
  WaveNet fresh(config, g, dtype);
  net = std::move(fresh.net);
  auto dst = net.parameters(), dstb = net.buffers();
  auto src = const_cast<WaveNet&>(other).net.parameters(), srcb = const_cast<WaveNet&>(other).net.buffers();
  for (std::size_t i = 0; i < dst.size(); ++i) *dst[i].second = src[i].second->detach().to(dtype).clone();
  for (std::size_t i = 0; i < dstb.size(); ++i) *dstb[i].second = srcb[i].second->detach().to(dtype).clone();
}

WaveNet::Forward WaveNet::forward(const at::Tensor& Xb, const at::Tensor& Yb, const layers::Sequential::Hook& hook) {
  Forward f;
  const at::Tensor logits = net.forward(Xb, &f.outputs, hook);
  f.loss = loss_fn.forward(logits, Yb);
  return f;
}

layers::NamedTensors WaveNet::backward() {
  at::NoGradGuard no_grad;
  layers::NamedTensors out = net.backward(loss_fn.backward());
  for (auto& g : net.grads()) out.push_back(std::move(g));
  return out;
}

at::Tensor WaveNet::logits(const at::Tensor& X) { return net.forward(X); }

std::int64_t WaveNet::numel() {
  std::int64_t n = 0;
  for (auto& [name, t] : net.parameters()) n += t->numel();
  return n;
}

void WaveNet::set_autograd_forward(bool on) {
  for (auto& layer : net.layers()) {
    if (auto* t = dynamic_cast<layers::Tanh*>(layer.get())) t->vector_tanh = !on;
    if (auto* b = dynamic_cast<layers::BatchNorm1d*>(layer.get())) b->loop_statistics = !on;
  }
}

void WaveNet::set_table(const layers::BackwardTable* table) {
  net.set_table(table);
  loss_fn.table = table;
}

}  // namespace bpn::models
