#include "support/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>

#include "models/mlp/check.h"
#include "verify/verdict.h"

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

namespace {
Accuracy judge_all(const std::vector<std::pair<std::string, at::Tensor>>& manual,
                   const std::map<std::string, at::Tensor>& r32, const std::map<std::string, at::Tensor>& r64,
                   std::map<std::string, double> noise) {
  Accuracy out;
  for (const auto& [name, m] : manual) {
    const auto it = noise.find(name);
    const verify::Accuracy a =
        verify::judge_accuracy(m, r64.at(name), r32.at(name), it == noise.end() ? 0.0 : it->second);
    if (!a.pass) {
      out.pass = false;
      out.detail += name + ": " + a.describe() + "; ";
    }
  }
  return out;
}
}  // namespace

Accuracy chunked_accuracy(const model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb) {
  model::Params p64 = p.to(at::kDouble), p32 = p.to(at::kFloat), pm = p.to(p.C.scalar_type());
  model::ChunkedForward f64, f32, fm;
  const auto r64 = chunked_autograd(p64, f64, Xb, Yb);
  const auto r32 = chunked_autograd(p32, f32, Xb, Yb);
  chunked_autograd(pm, fm, Xb, Yb);  // the forward the manual backward runs from
  // The chunked backward performs autograd's own operations; only the two analytically-zero
  // gradients need a scale, as in check's Exercise 1.
  return judge_all(model::chunked_backward(pm, fm, Xb, Yb).named(), r32, r64, verify::chunked_noise_scales(r64));
}

Accuracy fused_accuracy(const model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb) {
  model::Params p64 = p.to(at::kDouble), p32 = p.to(at::kFloat), pm = p.to(p.C.scalar_type());
  model::FusedForward f64, f32, fm;
  const auto r64 = fused_autograd(p64, f64, Xb, Yb);
  const auto r32 = fused_autograd(p32, f32, Xb, Yb);
  fused_autograd(pm, fm, Xb, Yb);
  const auto noise = verify::batchnorm_noise_scales(r64.at("hpreact"), f64.bn.bnraw, f64.bn.bnvar_inv, p64.bngain,
                                                    f64.hprebn, f64.embcat, p64.W1, f64.emb, Xb, p64.C);
  return judge_all(model::fused_backward(pm, fm, Xb, Yb).named(), r32, r64, noise);
}

}  // namespace bpn::testing
