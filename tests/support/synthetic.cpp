#include "support/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>

namespace bpn::testing {

Synthetic synthetic(std::int64_t n, std::int64_t vocab, std::int64_t block, std::int64_t n_embd, std::int64_t n_hidden,
                    std::uint64_t seed, at::ScalarType dtype) {
  model::ModelConfig cfg;
  cfg.vocab_size = vocab;
  cfg.block_size = block;
  cfg.n_embd = n_embd;
  cfg.n_hidden = n_hidden;
  cfg.seed = seed;
  cfg.dtype = dtype;
  auto init = model::init_params(cfg);
  at::Generator g = at::detail::createCPUGenerator(seed + 7);
  return {init.params, at::randint(0, vocab, {n, block}, g, at::kLong), at::randint(0, vocab, {n}, g, at::kLong)};
}

std::map<std::string, at::Tensor> chunked_autograd(model::Params& p, model::ChunkedForward& f, const at::Tensor& Xb,
                                                   const at::Tensor& Yb) {
  for (auto& [name, t] : p.named()) *t = t->detach().clone().set_requires_grad(true);
  f = model::chunked_forward(p, Xb, Yb);
  for (auto& [name, t] : f.intermediates()) t.retain_grad();
  f.loss.backward();
  std::map<std::string, at::Tensor> ref;
  for (auto& [name, t] : f.intermediates()) ref[name] = t.grad();
  for (auto& [name, t] : p.named()) ref[name] = t->grad();
  return ref;
}

std::map<std::string, at::Tensor> fused_autograd(model::Params& p, model::FusedForward& f, const at::Tensor& Xb,
                                                 const at::Tensor& Yb) {
  for (auto& [name, t] : p.named()) *t = t->detach().clone().set_requires_grad(true);
  f = model::fused_forward(p, Xb, Yb);
  for (at::Tensor* t : {&f.logits, &f.h, &f.bn.hpreact, &f.hprebn, &f.embcat, &f.emb}) t->retain_grad();
  f.loss.backward();
  std::map<std::string, at::Tensor> ref = {{"logits", f.logits.grad()},      {"h", f.h.grad()},
                                           {"hpreact", f.bn.hpreact.grad()}, {"hprebn", f.hprebn.grad()},
                                           {"embcat", f.embcat.grad()},      {"emb", f.emb.grad()}};
  for (auto& [name, t] : p.named()) ref[name] = t->grad();
  return ref;
}

Accuracy fused_accuracy(const model::Params& p32, const at::Tensor& Xb, const at::Tensor& Yb) {
  auto promoted = [&](at::ScalarType dtype) {
    model::Params p;
    auto dst = p.named();
    const auto src = p32.named();
    for (std::size_t i = 0; i < dst.size(); ++i) *dst[i].second = src[i].second->detach().to(dtype);
    return p;
  };
  model::Params p64 = promoted(at::kDouble), a32 = promoted(at::kFloat), m32 = promoted(at::kFloat);
  model::FusedForward f64, f32, fm;
  const auto truth = fused_autograd(p64, f64, Xb, Yb);
  const auto autograd = fused_autograd(a32, f32, Xb, Yb);
  fused_autograd(m32, fm, Xb, Yb);  // the forward the manual backward runs from
  double G = 0.0;
  for (const auto& [name, g] : truth) G = std::max(G, g.abs().max().item<double>());
  const model::FusedGrads grads = model::fused_backward(m32, fm, Xb, Yb);
  // db1 is analytically zero: BatchNorm removes any bias added before it. The closed form's batch
  // sum of dhprebn is then pure rounding, bounded (to first order) by (n + 4) u sum_i |t_i| with
  // t_i = |bngain * bnvar_inv| / n * (n|dy_i| + |sum dy| + (n/(n-1)) |x_i| |sum dy x|), the terms of
  // the closed form, and u = 2^-24 (float32).
  const double n = static_cast<double>(Xb.size(0));
  const at::Tensor dy = grads.dhpreact.to(at::kDouble).abs(), x = fm.bn.bnraw.to(at::kDouble);
  const at::Tensor coef = (m32.bngain * fm.bn.bnvar_inv).to(at::kDouble).abs() / n;
  const at::Tensor sum_dy = grads.dhpreact.to(at::kDouble).sum({0}, true).abs();
  const at::Tensor sum_dyx = (grads.dhpreact.to(at::kDouble) * x).sum({0}, true).abs();
  const at::Tensor terms = coef * (n * dy + sum_dy + n / (n - 1.0) * x.abs() * sum_dyx);
  const double b1_noise = (n + 4.0) * std::ldexp(1.0, -24) * terms.sum({0}).max().item<double>();
  Accuracy out;
  for (const auto& [name, manual] : grads.named()) {
    const at::Tensor g64 = truth.at(name);
    const double manual_err = (manual.to(at::kDouble) - g64).abs().max().item<double>();
    const double autograd_err = (autograd.at(name).to(at::kDouble) - g64).abs().max().item<double>();
    const double bound = 20.0 * autograd_err + 1e-4 * G + (name == "b1" ? b1_noise : 0.0);
    if (!(manual_err <= bound)) {
      out.pass = false;
      out.detail += name + ": |manual32 - autograd64| = " + std::to_string(manual_err) + " > bound " +
                    std::to_string(bound) + " (|autograd32 - autograd64| = " + std::to_string(autograd_err) +
                    ", G = " + std::to_string(G) + "); ";
    }
  }
  return out;
}

}  // namespace bpn::testing
