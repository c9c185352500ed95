#include "models/gpt/gpt.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>

#include "layers/embedding.h"
#include "layers/linear.h"
#include "util/errors.h"

namespace bpn::models {

nlohmann::json GPTConfig::to_json() const {
  return {{"arch", "gpt"},      {"vocab_size", vocab_size}, {"block_size", block_size},
          {"n_layer", n_layer}, {"n_head", n_head},         {"n_embd", n_embd},
          {"seed", seed}};
}

GPT::GPT(const GPTConfig& c, at::Generator& g, at::ScalarType dtype) : config(c) {
  // LayerNorm over 1 channel outputs its bias, over 2 it outputs +-1: the gradients through it are
  // rounding noise, which the verdict cannot judge (the sweep found false FAILs there, none above)
  if (c.n_embd < 3) {
    throw InputError("--n-embd " + std::to_string(c.n_embd) +
                     " is too small for the GPT: LayerNorm over fewer than 3 channels is degenerate; use 3 or more");
  }
  if (c.n_embd % c.n_head != 0) {
    throw InputError("--n-embd " + std::to_string(c.n_embd) + " is not a multiple of --n-head " +
                     std::to_string(c.n_head) + "; every head needs the same width");
  }
  auto linear = [&](std::int64_t in, std::int64_t out, bool bias) {
    Linear l{at::randn({in, out}, g, at::kFloat) / std::sqrt(static_cast<double>(in)), {}};
    if (bias) l.b = at::zeros({out}, at::kFloat);
    return l;
  };
  const std::int64_t C = c.n_embd;
  wte_ = at::randn({c.vocab_size, C}, g, at::kFloat) * 0.02;
  wpe_ = at::randn({c.block_size, C}, g, at::kFloat) * 0.02;
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    Block b;
    b.ln1_w = at::ones({C}, at::kFloat);
    b.ln1_b = at::zeros({C}, at::kFloat);
    b.c_attn = linear(C, 3 * C, true);
    b.attn_proj = linear(C, C, true);
    b.ln2_w = at::ones({C}, at::kFloat);
    b.ln2_b = at::zeros({C}, at::kFloat);
    b.c_fc = linear(C, 4 * C, true);
    b.mlp_proj = linear(4 * C, C, true);
    blocks_.push_back(b);
  }
  lnf_w_ = at::ones({C}, at::kFloat);
  lnf_b_ = at::zeros({C}, at::kFloat);
  lm_head_ = linear(C, c.vocab_size, false);
  for (auto& [name, t] : parameters()) *t = t->to(dtype);
}

GPT::GPT(const GPT& other, at::ScalarType dtype) : config(other.config), table(other.table) {
  at::Generator g = at::detail::createCPUGenerator(0);
  GPT fresh(config, g, dtype);
  *this = std::move(fresh);
  table = other.table;
  auto dst = parameters();
  auto src = const_cast<GPT&>(other).parameters();
  for (std::size_t i = 0; i < dst.size(); ++i) *dst[i].second = src[i].second->detach().to(dtype).clone();
}

std::vector<std::pair<std::string, at::Tensor*>> GPT::parameters() {
  std::vector<std::pair<std::string, at::Tensor*>> p = {{"wte", &wte_}, {"wpe", &wpe_}};
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    const std::string h = "h" + std::to_string(l) + ".";
    Block& b = blocks_[l];
    p.insert(p.end(), {{h + "ln_1.weight", &b.ln1_w},
                       {h + "ln_1.bias", &b.ln1_b},
                       {h + "attn.c_attn.weight", &b.c_attn.w},
                       {h + "attn.c_attn.bias", &b.c_attn.b},
                       {h + "attn.c_proj.weight", &b.attn_proj.w},
                       {h + "attn.c_proj.bias", &b.attn_proj.b},
                       {h + "ln_2.weight", &b.ln2_w},
                       {h + "ln_2.bias", &b.ln2_b},
                       {h + "mlp.c_fc.weight", &b.c_fc.w},
                       {h + "mlp.c_fc.bias", &b.c_fc.b},
                       {h + "mlp.c_proj.weight", &b.mlp_proj.w},
                       {h + "mlp.c_proj.bias", &b.mlp_proj.b}});
  }
  p.insert(p.end(), {{"ln_f.weight", &lnf_w_}, {"ln_f.bias", &lnf_b_}, {"lm_head.weight", &lm_head_.w}});
  return p;
}

std::int64_t GPT::numel() {
  std::int64_t n = 0;
  for (auto& [name, t] : parameters()) n += t->numel();
  return n;
}

at::Tensor GPT::forward(const at::Tensor& idx, const at::Tensor& targets, Named* record) {
  targets_ = targets;
  return layers::masked_cross_entropy_forward(logits(idx, record), targets);
}

at::Tensor GPT::logits(const at::Tensor& idx, Named* record) {
  const std::int64_t B = idx.size(0), T = idx.size(1), C = config.n_embd, nh = config.n_head, hs = C / nh;
  if (T > config.block_size) throw InputError("sequence length " + std::to_string(T) + " exceeds block_size");
  auto rec = [&](const std::string& name, const at::Tensor& t) {
    if (record) record->emplace_back(name, t);
  };
  const layers::KernelProducts kernel_products;  // layers/linear.h: the GPT's products on libxsmm
  idx_ = idx;
  x0_ = at::embedding(wte_, idx) + wpe_.narrow(0, 0, T);  // x = wte[idx] + wpe[:T]
  rec("emb", x0_);
  at::Tensor x = x0_;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  saved_.assign(blocks_.size(), {});
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    BlockSaved& s = saved_[l];
    const std::string h = "h" + std::to_string(l) + ".";
    s.x_in = x;
    s.ln1 = layers::layernorm_forward(x, b.ln1_w, b.ln1_b, save_for_manual_backward ? &s.ln1_s : nullptr);
    rec(h + "ln_1", s.ln1);
    const at::Tensor qkv = layers::linear_forward(s.ln1, b.c_attn.w, b.c_attn.b);  // [B, T, 3C]
    auto heads = [&](std::int64_t i) { return qkv.narrow(-1, i * C, C).view({B, T, nh, hs}).transpose(1, 2); };
    s.q = heads(0);
    s.k = heads(1);
    s.v = heads(2);
    rec(h + "q", s.q);
    rec(h + "k", s.k);
    rec(h + "v", s.v);
    const layers::AttentionForward a = layers::causal_attention_forward(s.q, s.k, s.v, scale, record != nullptr);
    rec(h + "att", a.att);
    s.probs = a.probs;
    rec(h + "probs", s.probs);
    s.y = a.y;  // heads merged
    rec(h + "y", s.y);
    const at::Tensor attn_out = layers::linear_forward(s.y, b.attn_proj.w, b.attn_proj.b);
    rec(h + "attn_out", attn_out);
    s.res1 = x + attn_out;
    rec(h + "res1", s.res1);
    s.ln2 = layers::layernorm_forward(s.res1, b.ln2_w, b.ln2_b, save_for_manual_backward ? &s.ln2_s : nullptr);
    rec(h + "ln_2", s.ln2);
    s.fc = layers::linear_forward(s.ln2, b.c_fc.w, b.c_fc.b);
    rec(h + "fc", s.fc);
    s.gelu = layers::gelu_forward(s.fc, save_for_manual_backward ? &s.gelu_t : nullptr);
    rec(h + "gelu", s.gelu);
    const at::Tensor mlp_out = layers::linear_forward(s.gelu, b.mlp_proj.w, b.mlp_proj.b);
    rec(h + "mlp_out", mlp_out);
    x = s.res1 + mlp_out;
    rec(h + "res2", x);
  }
  x_final_ = x;
  lnf_ = layers::layernorm_forward(x, lnf_w_, lnf_b_, save_for_manual_backward ? &lnf_s_ : nullptr);
  rec("ln_f", lnf_);
  logits_ = layers::linear_forward(lnf_, lm_head_.w, {});
  rec("logits", logits_);
  return logits_;
}

Named GPT::backward() {
  at::NoGradGuard no_grad;
  const layers::KernelProducts kernel_products;
  const layers::BackwardTable& t = *table;
  const std::int64_t B = idx_.size(0), T = idx_.size(1), C = config.n_embd, nh = config.n_head, hs = C / nh;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  Named out, params;
  auto detached = [](const at::Tensor& x) { return x.detach(); };
  const at::Tensor dlogits = t.masked_cross_entropy_backward(detached(logits_), targets_);
  out.emplace_back("logits", dlogits);
  const layers::LinearGrads head = t.linear_backward(dlogits, detached(lnf_), detached(lm_head_.w), false);
  out.emplace_back("ln_f", head.dx);
  const layers::LayerNormGrads lnf = t.layernorm_backward(head.dx, lnf_s_.xhat, lnf_s_.rstd, detached(lnf_w_));
  at::Tensor dx = lnf.dx;  // the gradient of the residual stream leaving the last block
  std::vector<Named> block_params(blocks_.size());
  for (std::size_t l = blocks_.size(); l-- > 0;) {
    const Block& b = blocks_[l];
    const BlockSaved& s = saved_[l];
    const std::string h = "h" + std::to_string(l) + ".";
    Named& bp = block_params[l];
    // x = res1 + mlp(ln_2(res1))
    out.emplace_back(h + "res2", dx);
    const layers::ResidualGrads r2 = t.residual_backward(dx);
    out.emplace_back(h + "mlp_out", r2.dbranch);
    const layers::LinearGrads proj = t.linear_backward(r2.dbranch, detached(s.gelu), detached(b.mlp_proj.w), true);
    out.emplace_back(h + "gelu", proj.dx);
    const at::Tensor dfc = t.gelu_backward(proj.dx, detached(s.fc), s.gelu_t);
    out.emplace_back(h + "fc", dfc);
    const layers::LinearGrads fc = t.linear_backward(dfc, detached(s.ln2), detached(b.c_fc.w), true);
    out.emplace_back(h + "ln_2", fc.dx);
    const layers::LayerNormGrads ln2 = t.layernorm_backward(fc.dx, s.ln2_s.xhat, s.ln2_s.rstd, detached(b.ln2_w));
    const at::Tensor dres1 = r2.dx + ln2.dx;  // res1 feeds the skip path and ln_2: the gradients add
    out.emplace_back(h + "res1", dres1);
    // res1 = x + attn(ln_1(x))
    const layers::ResidualGrads r1 = t.residual_backward(dres1);
    out.emplace_back(h + "attn_out", r1.dbranch);
    const layers::LinearGrads aproj = t.linear_backward(r1.dbranch, detached(s.y), detached(b.attn_proj.w), true);
    out.emplace_back(h + "y", aproj.dx);
    const at::Tensor dyh = aproj.dx.view({B, T, nh, hs}).transpose(1, 2);  // heads split again
    const layers::ValuesGrads vals = t.attention_values_backward(dyh, detached(s.probs), detached(s.v));
    out.emplace_back(h + "probs", vals.dprobs);
    const at::Tensor datt = t.softmax_backward(vals.dprobs, detached(s.probs));
    out.emplace_back(h + "att", datt);
    const layers::ScoresGrads qk = t.attention_scores_backward(datt, detached(s.q), detached(s.k), scale);
    out.emplace_back(h + "q", qk.dq);
    out.emplace_back(h + "k", qk.dk);
    out.emplace_back(h + "v", vals.dv);
    auto merged = [&](const at::Tensor& d) { return d.transpose(1, 2).reshape({B, T, C}); };
    const at::Tensor dqkv = at::cat({merged(qk.dq), merged(qk.dk), merged(vals.dv)}, -1);
    const layers::LinearGrads cattn = t.linear_backward(dqkv, detached(s.ln1), detached(b.c_attn.w), true);
    out.emplace_back(h + "ln_1", cattn.dx);
    const layers::LayerNormGrads ln1 = t.layernorm_backward(cattn.dx, s.ln1_s.xhat, s.ln1_s.rstd, detached(b.ln1_w));
    dx = r1.dx + ln1.dx;  // x feeds the skip path and ln_1
    bp = {{h + "ln_1.weight", ln1.dw},          {h + "ln_1.bias", ln1.db},
          {h + "attn.c_attn.weight", cattn.dW}, {h + "attn.c_attn.bias", cattn.db},
          {h + "attn.c_proj.weight", aproj.dW}, {h + "attn.c_proj.bias", aproj.db},
          {h + "ln_2.weight", ln2.dw},          {h + "ln_2.bias", ln2.db},
          {h + "mlp.c_fc.weight", fc.dW},       {h + "mlp.c_fc.bias", fc.db},
          {h + "mlp.c_proj.weight", proj.dW},   {h + "mlp.c_proj.bias", proj.db}};
  }
  out.emplace_back("emb", dx);
  params.emplace_back("wte", t.embedding_backward(dx, idx_, detached(wte_)));
  at::Tensor dwpe = at::zeros_like(wpe_);
  dwpe.narrow(0, 0, T).copy_(t.position_embedding_backward(dx));
  params.emplace_back("wpe", dwpe);
  for (auto& bp : block_params) params.insert(params.end(), bp.begin(), bp.end());
  params.emplace_back("ln_f.weight", lnf.dw);
  params.emplace_back("ln_f.bias", lnf.db);
  params.emplace_back("lm_head.weight", head.dW);
  out.insert(out.end(), params.begin(), params.end());
  return out;
}

}  // namespace bpn::models
