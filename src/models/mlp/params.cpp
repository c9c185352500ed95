#include "models/mlp/params.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/DistributionsHelper.h>

#include <cmath>
#include <iterator>
#include <mutex>

#include "util/errors.h"

namespace bpn::model {

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    default:
      return std::string(c10::toString(dtype));
  }
}

namespace {
constexpr const char* kParamNames[] = {"C", "W1", "b1", "W2", "b2", "bngain", "bnbias"};  // as tensors() orders them

template <typename T, std::size_t N>
std::vector<std::pair<std::string, T*>> with_names(const std::array<T*, N>& tensors) {
  static_assert(N == std::size(kParamNames));
  std::vector<std::pair<std::string, T*>> out;
  for (std::size_t i = 0; i < N; ++i) out.emplace_back(kParamNames[i], tensors[i]);
  return out;
}
}  // namespace

std::vector<std::pair<std::string, at::Tensor*>> Params::named() { return with_names(tensors()); }

std::vector<std::pair<std::string, const at::Tensor*>> Params::named() const { return with_names(tensors()); }

std::int64_t Params::numel() const {
  std::int64_t total = 0;
  for (const auto& [name, p] : named()) total += p->numel();
  return total;
}

Params Params::to(at::ScalarType dtype) const {
  Params out;
  auto dst = out.named();
  const auto src = named();
  for (std::size_t i = 0; i < dst.size(); ++i) *dst[i].second = src[i].second->detach().to(dtype);
  return out;
}

void Params::set_requires_grad(bool requires_grad) {
  for (auto& [name, p] : named()) p->set_requires_grad(requires_grad);
}

Initialised init_params(const ModelConfig& cfg) {
  if (cfg.n_embd < 1 || cfg.n_hidden < 1 || cfg.block_size < 1 || cfg.vocab_size < 2) {
    throw InputError(
        "model sizes must be positive (n_embd, n_hidden, block_size) and the "
        "vocabulary must have at least 2 characters");
  }
  at::Generator g = at::detail::createCPUGenerator(cfg.seed);
  const double fan_in = static_cast<double>(cfg.n_embd * cfg.block_size);
  Params p;
  p.C = at::randn({cfg.vocab_size, cfg.n_embd}, g);
  p.W1 = at::randn({cfg.n_embd * cfg.block_size, cfg.n_hidden}, g) * (5.0 / 3.0) / std::pow(fan_in, 0.5);
  p.b1 = at::randn({cfg.n_hidden}, g);
  p.W2 = at::randn({cfg.n_hidden, cfg.vocab_size}, g) * 0.1;
  p.b2 = at::randn({cfg.vocab_size}, g) * 0.1;

  at::Generator g2 = at::detail::createCPUGenerator(cfg.seed + 1);
  p.bngain = at::randn({1, cfg.n_hidden}, g2) * 0.1 + 1.0;
  p.bnbias = at::randn({1, cfg.n_hidden}, g2) * 0.1;

  for (auto& [name, t] : p.named()) *t = t->to(cfg.options()).contiguous();
  return {std::move(p), std::move(g)};
}

Batch draw_batch(const at::Tensor& Xtr, const at::Tensor& Ytr, std::int64_t batch_size, at::Generator& g,
                 at::Device device) {
  Batch b;
  b.ix = at::randint(0, Xtr.size(0), {batch_size}, g, at::kLong);
  b.Xb = Xtr.index_select(0, b.ix).to(device);
  b.Yb = Ytr.index_select(0, b.ix).to(device);
  return b;
}

void draw_rows(at::Generator& g, std::int64_t N, at::Tensor& ix) {
  if (N <= 0) throw InputError("draw_rows needs rows to draw from (N = " + std::to_string(N) + ")");
  if (!g.defined() || !g.device().is_cpu() || ix.scalar_type() != at::kLong || !ix.is_contiguous() ||
      !ix.device().is_cpu()) {
    at::randint_out(ix, 0, N, {ix.numel()}, g);
    return;
  }
  auto* cpu = at::check_generator<at::CPUGeneratorImpl>(g);
  std::lock_guard<std::mutex> lock(cpu->mutex_);
  at::uniform_int_from_to_distribution<std::int64_t> draw(static_cast<std::uint64_t>(N), 0);
  std::int64_t* out = ix.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < ix.numel(); ++i) out[i] = draw(cpu);
}

}  // namespace bpn::model
