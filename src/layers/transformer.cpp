#include "layers/transformer.h"

#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernel/vector_math.h"
#include "layers/cpu_loops.h"
#include "layers/cross_entropy.h"

namespace bpn::layers {

namespace {
// One head's rows of a [B, nh, T, X] tensor, read through its strides (q, k, v are views into the
// [B, T, 3C] projection; dq, dk, dv are written into [B, T, nh, hs] memory); the last dim is unit-stride.
template <typename T>
struct Heads {
  T* p;
  std::int64_t sb, sh, st;
  T* row(std::int64_t b, std::int64_t h, std::int64_t t) const { return p + b * sb + h * sh + t * st; }
};
template <typename T>
Heads<T> heads_of(const at::Tensor& x) {
  return {x.data_ptr<T>(), x.stride(0), x.stride(1), x.stride(2)};
}
at::Tensor unit_last(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }
// [B, nh, T, hs] gradients laid out as [B, T, nh, hs], so that merging the heads back is a view
at::Tensor empty_heads(const at::Tensor& like) {
  return at::empty({like.size(0), like.size(2), like.size(1), like.size(3)}, like.options()).transpose(1, 2);
}
}  // namespace

// See docs/derivations.md#layernorm
at::Tensor layernorm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, LayerNormSaved* saved) {
  if (saved) {
    at::NoGradGuard no_grad;
    const at::Tensor xd = x.detach();
    if (cpu_loops({xd, w, b})) {
      // One pass per row: mean and biased variance (accumulated in double), rstd, xhat, and, outside
      // autograd (the manual training step), the output from them instead of a second pass of
      // F.layer_norm over the same statistics.
      const bool output = no_autograd(x);
      const at::Tensor xc = xd.contiguous(), wc = w.contiguous(), bc = b.contiguous();
      const std::int64_t C = xc.size(-1), rows = xc.numel() / C;
      std::vector<std::int64_t> rshape(xc.sizes().begin(), xc.sizes().end());
      rshape.back() = 1;
      saved->xhat = at::empty_like(xc);
      saved->rstd = at::empty(rshape, xc.options());
      at::Tensor out = output ? at::empty_like(xc) : at::Tensor();
      AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "layernorm_forward", [&] {
        const scalar_t *px = xc.data_ptr<scalar_t>(), *pw = wc.data_ptr<scalar_t>(), *pb = bc.data_ptr<scalar_t>();
        scalar_t *ph = saved->xhat.data_ptr<scalar_t>(), *pr = saved->rstd.data_ptr<scalar_t>();
        scalar_t* po = output ? out.data_ptr<scalar_t>() : nullptr;
        for (std::int64_t r = 0; r < rows; ++r) {
          const scalar_t* xr = px + r * C;
          double sum = 0.0, sq = 0.0;
          for (std::int64_t c = 0; c < C; ++c) sum += xr[c];
          const double mean = sum / static_cast<double>(C);
          for (std::int64_t c = 0; c < C; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
          const scalar_t rstd = static_cast<scalar_t>(1.0 / std::sqrt(sq / static_cast<double>(C) + kLayerNormEps));
          const scalar_t m = static_cast<scalar_t>(mean);
          pr[r] = rstd;
          for (std::int64_t c = 0; c < C; ++c) {
            const scalar_t h = (xr[c] - m) * rstd;
            ph[r * C + c] = h;
            if (output) po[r * C + c] = pb[c] + h * pw[c];
          }
        }
      });
      if (output) return out;
    } else {
      const at::Tensor mean = xd.mean({-1}, true);
      const at::Tensor centered = xd - mean;
      saved->rstd = (centered * centered).mean({-1}, true).add_(kLayerNormEps).rsqrt_();
      saved->xhat = centered.mul_(saved->rstd);
      if (no_autograd(x)) return at::addcmul(b, saved->xhat, w);
    }
  }
  return at::layer_norm(x, {x.size(-1)}, w, b, kLayerNormEps);
}

LayerNormGrads layernorm_backward(const at::Tensor& dout, const at::Tensor& xhat, const at::Tensor& rstd,
                                  const at::Tensor& w) {
  const std::int64_t C = dout.size(-1);
  LayerNormGrads r;
  if (!cpu_loops({dout, xhat, rstd, w})) {
    const double Cd = static_cast<double>(C);
    const at::Tensor g = dout * w;  // dxhat
    r.dx = rstd / Cd * (Cd * g - g.sum({-1}, true) - xhat * (g * xhat).sum({-1}, true));
    const at::Tensor d2 = dout.reshape({-1, C});
    r.dw = (d2 * xhat.reshape({-1, C})).sum({0});
    r.db = d2.sum({0});
    return r;
  }
  // The same closed form, one pass per row; dw and db accumulate over the rows in double.
  const at::Tensor d = dout.contiguous(), h = xhat.contiguous(), rs = rstd.contiguous(), wc = w.contiguous();
  const std::int64_t rows = d.numel() / C;
  r.dx = at::empty_like(d);
  std::vector<double> dw(static_cast<std::size_t>(C), 0.0), db(static_cast<std::size_t>(C), 0.0);
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "layernorm_backward", [&] {
    const scalar_t *pd = d.data_ptr<scalar_t>(), *ph = h.data_ptr<scalar_t>(), *pr = rs.data_ptr<scalar_t>();
    const scalar_t* pw = wc.data_ptr<scalar_t>();
    scalar_t* px = r.dx.data_ptr<scalar_t>();
    const scalar_t Cs = static_cast<scalar_t>(C);
    for (std::int64_t row = 0; row < rows; ++row) {
      const scalar_t *dr = pd + row * C, *hr = ph + row * C;
      scalar_t sg = 0, sgh = 0;  // sum_C g, sum_C g xhat, with g = dout * w
      for (std::int64_t c = 0; c < C; ++c) {
        const scalar_t g = dr[c] * pw[c];
        sg += g;
        sgh += g * hr[c];
        dw[c] += static_cast<double>(dr[c]) * hr[c];
        db[c] += dr[c];
      }
      const scalar_t k = pr[row] / Cs;
      for (std::int64_t c = 0; c < C; ++c) px[row * C + c] = k * (Cs * (dr[c] * pw[c]) - sg - hr[c] * sgh);
    }
  });
  r.dw = at::tensor(dw, at::kDouble).to(d.scalar_type());
  r.db = at::tensor(db, at::kDouble).to(d.scalar_type());
  return r;
}

// See docs/derivations.md#gelu
namespace {
const double kGeluC = std::sqrt(2.0 / M_PI);

// t = tanh(u) in place: glibc's libmvec tanhf in float32 (kernel/vector_math.h), ATen's in float64
void tanh_in_place(float* u, std::int64_t n, at::Tensor&) { kernel::vector_tanh(u, u, n); }
void tanh_in_place(double*, std::int64_t, at::Tensor& u) { u.tanh_(); }

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
    if (no_autograd(x) && cpu_loops({xd})) {
      // Outside autograd (the manual training step): u in one pass, the tanh in place (libmvec's tanhf
      // in float32, ~4x faster than ATen's Sleef call; ATen's in float64), then 0.5 x (1 + t) in one
      // pass, instead of F.gelu computing the same tanh again.
      const at::Tensor xc = xd.contiguous();
      *tanh_u = at::empty_like(xc);
      at::Tensor out = at::empty_like(xc);
      AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "gelu_forward", [&] {
        const scalar_t* px = xc.data_ptr<scalar_t>();
        scalar_t *pt = tanh_u->data_ptr<scalar_t>(), *po = out.data_ptr<scalar_t>();
        const scalar_t c = static_cast<scalar_t>(kGeluC), a = static_cast<scalar_t>(0.044715);
        const std::int64_t n = xc.numel();
        for (std::int64_t i = 0; i < n; ++i) pt[i] = c * (px[i] + a * px[i] * px[i] * px[i]);
        tanh_in_place(pt, n, *tanh_u);
        for (std::int64_t i = 0; i < n; ++i) po[i] = scalar_t(0.5) * px[i] * (scalar_t(1) + pt[i]);
      });
      return out;
    }
    *tanh_u = at::tanh(kGeluC * (xd + 0.044715 * xd * xd * xd));
    if (no_autograd(x)) return 0.5 * xd * (1.0 + *tanh_u);
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
AttentionForward causal_attention_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                          bool keep_scores) {
  const std::int64_t B = q.size(0), nh = q.size(1), T = q.size(2), hs = q.size(3);
  AttentionForward f;
  if (keep_scores || !no_autograd(q) || !cpu_loops({q, k, v})) {
    const at::Tensor future = at::ones({T, T}, q.options().dtype(at::kBool)).triu(1);
    f.att = (q.matmul(k.transpose(-2, -1)) * scale).masked_fill(future, -std::numeric_limits<double>::infinity());
    f.probs = at::softmax(f.att, -1);
    f.y = f.probs.matmul(v).transpose(1, 2).contiguous().view({B, T, nh * hs});
    return f;
  }
  // Outside autograd (the manual training step): each head's rows in one loop, the masked (future)
  // scores never computed; probs [B, nh, T, T] (0 in the future, as softmax gives for -inf) and y
  // written with the heads already merged, [B, T, C].
  const at::Tensor qc = unit_last(q), kc = unit_last(k), vc = unit_last(v);
  f.probs = at::zeros({B, nh, T, T}, q.options());
  f.y = at::empty({B, T, nh * hs}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "causal_attention_forward", [&] {
    const Heads<scalar_t> Q = heads_of<scalar_t>(qc), K = heads_of<scalar_t>(kc), V = heads_of<scalar_t>(vc);
    scalar_t *pp = f.probs.data_ptr<scalar_t>(), *py = f.y.data_ptr<scalar_t>();
    const scalar_t s = static_cast<scalar_t>(scale);
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t h = 0; h < nh; ++h) {
        for (std::int64_t i = 0; i < T; ++i) {
          scalar_t* p = pp + ((b * nh + h) * T + i) * T;
          const scalar_t* qi = Q.row(b, h, i);
          scalar_t mx = -std::numeric_limits<scalar_t>::infinity();
          for (std::int64_t j = 0; j <= i; ++j) {
            const scalar_t* kj = K.row(b, h, j);
            scalar_t dot = 0;
            for (std::int64_t c = 0; c < hs; ++c) dot += qi[c] * kj[c];
            p[j] = dot * s;
            mx = std::max(mx, p[j]);
          }
          scalar_t sum = 0;
          for (std::int64_t j = 0; j <= i; ++j) sum += (p[j] = std::exp(p[j] - mx));
          const scalar_t inv = scalar_t(1) / sum;
          scalar_t* yi = py + (b * T + i) * nh * hs + h * hs;
          for (std::int64_t c = 0; c < hs; ++c) yi[c] = 0;
          for (std::int64_t j = 0; j <= i; ++j) {
            p[j] *= inv;
            const scalar_t* vj = V.row(b, h, j);
            for (std::int64_t c = 0; c < hs; ++c) yi[c] += p[j] * vj[c];
          }
        }
      }
    }
  });
  return f;
}

at::Tensor softmax_backward(const at::Tensor& dprobs, const at::Tensor& probs) {
  if (!cpu_loops({dprobs, probs})) return probs * (dprobs - (probs * dprobs).sum({-1}, true));
  // p * (g - sum_j p g), one pass per row
  const at::Tensor g = dprobs.contiguous(), p = probs.contiguous();
  at::Tensor out = at::empty_like(g);
  const std::int64_t T = g.size(-1), rows = g.numel() / T;
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "softmax_backward", [&] {
    const scalar_t *pg = g.data_ptr<scalar_t>(), *pp = p.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const scalar_t *gr = pg + r * T, *pr = pp + r * T;
      scalar_t dot = 0;
      for (std::int64_t j = 0; j < T; ++j) dot += pr[j] * gr[j];
      for (std::int64_t j = 0; j < T; ++j) po[r * T + j] = pr[j] * (gr[j] - dot);
    }
  });
  return out;
}

ScoresGrads attention_scores_backward(const at::Tensor& datt, const at::Tensor& q, const at::Tensor& k, double scale) {
  const std::int64_t T = datt.size(-1);
  if (!cpu_loops({datt, q, k})) {
    const at::Tensor future = at::ones({T, T}, datt.options().dtype(at::kBool)).triu(1);
    const at::Tensor d = datt.masked_fill(future, 0.0) * scale;  // the mask's backward, then the scale's
    return {d.matmul(k), d.transpose(-2, -1).matmul(q)};
  }
  // Per head: d = datt * scale on and below the diagonal, 0 above it (the mask's backward);
  // dq_i = sum_{j<=i} d_ij k_j,  dk_j = sum_{i>=j} d_ij q_i
  const at::Tensor dc = datt.contiguous(), qc = unit_last(q), kc = unit_last(k);
  const std::int64_t B = q.size(0), nh = q.size(1), hs = q.size(3);
  ScoresGrads r{empty_heads(q), empty_heads(k)};
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "attention_scores_backward", [&] {
    const Heads<scalar_t> Q = heads_of<scalar_t>(qc), K = heads_of<scalar_t>(kc);
    const Heads<scalar_t> DQ = heads_of<scalar_t>(r.dq), DK = heads_of<scalar_t>(r.dk);
    const scalar_t* pd = dc.data_ptr<scalar_t>();
    const scalar_t s = static_cast<scalar_t>(scale);
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t h = 0; h < nh; ++h) {
        const scalar_t* d = pd + (b * nh + h) * T * T;
        for (std::int64_t i = 0; i < T; ++i) {
          scalar_t* dq = DQ.row(b, h, i);
          for (std::int64_t c = 0; c < hs; ++c) dq[c] = 0;
          for (std::int64_t j = 0; j <= i; ++j) {
            const scalar_t dij = d[i * T + j] * s;
            const scalar_t* kj = K.row(b, h, j);
            for (std::int64_t c = 0; c < hs; ++c) dq[c] += dij * kj[c];
          }
        }
        for (std::int64_t j = 0; j < T; ++j) {
          scalar_t* dk = DK.row(b, h, j);
          for (std::int64_t c = 0; c < hs; ++c) dk[c] = 0;
          for (std::int64_t i = j; i < T; ++i) {
            const scalar_t dij = d[i * T + j] * s;
            const scalar_t* qi = Q.row(b, h, i);
            for (std::int64_t c = 0; c < hs; ++c) dk[c] += dij * qi[c];
          }
        }
      }
    }
  });
  return r;
}

ValuesGrads attention_values_backward(const at::Tensor& dy, const at::Tensor& probs, const at::Tensor& v) {
  if (!cpu_loops({dy, probs, v})) return {dy.matmul(v.transpose(-2, -1)), probs.transpose(-2, -1).matmul(dy)};
  // Per head: dprobs_ij = dy_i . v_j (every j: the future's dprobs is not zero, only its probs are);
  // dv_j = sum_i probs_ij dy_i
  const at::Tensor dyc = unit_last(dy), pc = probs.contiguous(), vc = unit_last(v);
  const std::int64_t B = v.size(0), nh = v.size(1), T = v.size(2), hs = v.size(3);
  ValuesGrads r{at::empty({B, nh, T, T}, v.options()), empty_heads(v)};
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "attention_values_backward", [&] {
    const Heads<scalar_t> DY = heads_of<scalar_t>(dyc), V = heads_of<scalar_t>(vc), DV = heads_of<scalar_t>(r.dv);
    const scalar_t* pp = pc.data_ptr<scalar_t>();
    scalar_t* pdp = r.dprobs.data_ptr<scalar_t>();
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t h = 0; h < nh; ++h) {
        const scalar_t* p = pp + (b * nh + h) * T * T;
        scalar_t* dp = pdp + (b * nh + h) * T * T;
        for (std::int64_t i = 0; i < T; ++i) {
          const scalar_t* dyi = DY.row(b, h, i);
          for (std::int64_t j = 0; j < T; ++j) {
            const scalar_t* vj = V.row(b, h, j);
            scalar_t dot = 0;
            for (std::int64_t c = 0; c < hs; ++c) dot += dyi[c] * vj[c];
            dp[i * T + j] = dot;
          }
        }
        for (std::int64_t j = 0; j < T; ++j) {
          scalar_t* dv = DV.row(b, h, j);
          for (std::int64_t c = 0; c < hs; ++c) dv[c] = 0;
          for (std::int64_t i = 0; i < T; ++i) {
            const scalar_t pij = p[i * T + j];
            const scalar_t* dyi = DY.row(b, h, i);
            for (std::int64_t c = 0; c < hs; ++c) dv[c] += pij * dyi[c];
          }
        }
      }
    }
  });
  return r;
}

ResidualGrads residual_backward(const at::Tensor& dout) { return {dout, dout}; }

at::Tensor position_embedding_backward(const at::Tensor& dx) { return dx.sum({0}); }

at::Tensor masked_cross_entropy_forward(const at::Tensor& logits, const at::Tensor& targets) {
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), {}, at::Reduction::Mean,
                                /*ignore_index=*/-1);
}

at::Tensor masked_cross_entropy_backward(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor l2 = logits.reshape({-1, logits.size(-1)});
  return cross_entropy_backward(l2, targets.reshape({-1})).reshape(logits.sizes());
}

}  // namespace bpn::layers
