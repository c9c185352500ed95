#include "layers/transformer.h"

#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace bpn::layers {

// See docs/derivations.md#layernorm
at::Tensor layernorm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, LayerNormSaved* saved) {
  if (saved) {
    at::NoGradGuard no_grad;
    const at::Tensor xd = x.detach();
    const at::Tensor mean = xd.mean({-1}, true);
    const at::Tensor centered = xd - mean;
    saved->rstd = (centered * centered).mean({-1}, true).add_(kLayerNormEps).rsqrt_();
    saved->xhat = centered.mul_(saved->rstd);
    // Outside autograd (the manual training step) the output from what the backward keeps, instead of
    // a second pass of F.layer_norm over the same statistics.
    if (!at::GradMode::is_enabled() && !x.requires_grad()) return at::addcmul(b, saved->xhat, w);
  }
  return at::layer_norm(x, {x.size(-1)}, w, b, kLayerNormEps);
}

LayerNormGrads layernorm_backward(const at::Tensor& dout, const at::Tensor& xhat, const at::Tensor& rstd,
                                  const at::Tensor& w) {
  const double C = static_cast<double>(dout.size(-1));
  const at::Tensor g = dout * w;  // dxhat
  LayerNormGrads r;
  r.dx = rstd / C * (C * g - g.sum({-1}, true) - xhat * (g * xhat).sum({-1}, true));
  const at::Tensor d2 = dout.reshape({-1, dout.size(-1)});
  r.dw = (d2 * xhat.reshape({-1, dout.size(-1)})).sum({0});
  r.db = d2.sum({0});
  return r;
}

// See docs/derivations.md#gelu
namespace {
const double kGeluC = std::sqrt(2.0 / M_PI);

template <typename T>
void gelu_backward_loop(const T* d, const T* x, const T* t, T* out, std::int64_t n) {
  const T c = static_cast<T>(kGeluC), a = static_cast<T>(3.0 * 0.044715);
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = d[i] * (T(0.5) * (T(1) + t[i]) + T(0.5) * x[i] * (T(1) - t[i] * t[i]) * c * (T(1) + a * x[i] * x[i]));
  }
}
}  // namespace

at::Tensor gelu_forward(const at::Tensor& x, at::Tensor* tanh_u) {
  if (tanh_u) {
    at::NoGradGuard no_grad;
    const at::Tensor xd = x.detach();
    *tanh_u = at::tanh(kGeluC * (xd + 0.044715 * xd * xd * xd));
    // Outside autograd (the manual training step): 0.5 x (1 + t) from the saved t, instead of F.gelu
    // computing the same tanh again.
    if (!at::GradMode::is_enabled() && !x.requires_grad()) return 0.5 * xd * (1.0 + *tanh_u);
  }
  return at::gelu(x, "tanh");
}

at::Tensor gelu_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& t) {
  const bool loop = dout.device().is_cpu() && (dout.scalar_type() == at::kFloat || dout.scalar_type() == at::kDouble) &&
                    x.scalar_type() == dout.scalar_type() && t.scalar_type() == dout.scalar_type();
  if (!loop) {
    return dout * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kGeluC * (1.0 + 3.0 * 0.044715 * x * x));
  }
  const at::Tensor d = dout.contiguous(), xc = x.contiguous(), tc = t.contiguous();
  at::Tensor out = at::empty_like(d);
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "gelu_backward", [&] {
    gelu_backward_loop(d.data_ptr<scalar_t>(), xc.data_ptr<scalar_t>(), tc.data_ptr<scalar_t>(),
                       out.data_ptr<scalar_t>(), d.numel());
  });
  return out;
}

// See docs/derivations.md#causal-self-attention
at::Tensor softmax_backward(const at::Tensor& dprobs, const at::Tensor& probs) {
  return probs * (dprobs - (probs * dprobs).sum({-1}, true));
}

ScoresGrads attention_scores_backward(const at::Tensor& datt, const at::Tensor& q, const at::Tensor& k, double scale) {
  const std::int64_t T = datt.size(-1);
  const at::Tensor future = at::ones({T, T}, datt.options().dtype(at::kBool)).triu(1);
  const at::Tensor d = datt.masked_fill(future, 0.0) * scale;  // the mask's backward, then the scale's
  return {d.matmul(k), d.transpose(-2, -1).matmul(q)};
}

ValuesGrads attention_values_backward(const at::Tensor& dy, const at::Tensor& probs, const at::Tensor& v) {
  return {dy.matmul(v.transpose(-2, -1)), probs.transpose(-2, -1).matmul(dy)};
}

ResidualGrads residual_backward(const at::Tensor& dout) { return {dout, dout}; }

at::Tensor position_embedding_backward(const at::Tensor& dx) { return dx.sum({0}); }

at::Tensor masked_cross_entropy_forward(const at::Tensor& logits, const at::Tensor& targets) {
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), {}, at::Reduction::Mean,
                                /*ignore_index=*/-1);
}

at::Tensor masked_cross_entropy_backward(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor l2 = logits.reshape({-1, logits.size(-1)});
  const at::Tensor t = targets.reshape({-1});
  const at::Tensor counted = t.ne(-1);
  const double count = static_cast<double>(counted.sum().item<std::int64_t>());
  at::Tensor d = at::softmax(l2, -1);
  const at::Tensor rows = at::arange(t.size(0), t.options()).masked_select(counted);
  d.index_put_({rows, t.masked_select(counted)}, d.index({rows, t.masked_select(counted)}) - 1.0);
  d = d * counted.unsqueeze(1).to(d.scalar_type()) / count;
  return d.reshape(logits.sizes());
}

}  // namespace bpn::layers
