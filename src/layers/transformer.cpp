#include "layers/transformer.h"

#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernel/loop_clones.h"
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

// The attention's loops, compiled for AVX-512, AVX2 and the baseline (kernel/loop_clones.h), without
// fma contraction (-ffp-contract=off on this file, src/CMakeLists.txt), so that every version rounds
// alike. Each sum is formed in the order the plain loop forms it (a dot product over c = 0, 1, ...; a
// weighted sum of rows over j or i in order); what changes is that 16 of those sums advance side by side
// in registers: the rows of a head are first copied into scratch padded with zeros to a multiple of 16
// (the padded lanes are computed and dropped).
constexpr std::int64_t kLanes = 16;
std::int64_t padded(std::int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// dst[r * ldd + c] = X.row(b, h, r)[c] (r < R, c < hs), zero elsewhere in [rows, ldd]; with transposed,
// dst[c * ldd + r] (dst [hs, ldd]). Pure moves: each path gives the same bits.
template <typename S>
inline void copy_head(const Heads<S>& X, std::int64_t b, std::int64_t h, std::int64_t R, std::int64_t hs,
                      bool transposed, S* dst, std::int64_t ldd, std::int64_t rows) {
  if constexpr (std::is_same_v<S, float>) {
    if (transposed && ldd == padded(R) && rows == hs) {  // 16 x 16 blocks (kernel/vector_math.h) cover [hs, ldd]
      const float* src[kLanes] = {};
      for (std::int64_t r0 = 0; r0 < R; r0 += kLanes) {
        const int nr = static_cast<int>(std::min(kLanes, R - r0));
        for (std::int64_t c0 = 0; c0 < hs; c0 += kLanes) {
          for (int i = 0; i < nr; ++i) src[i] = X.row(b, h, r0 + i) + c0;
          kernel::transpose_block16(src, nr, static_cast<int>(std::min(kLanes, hs - c0)), dst + c0 * ldd + r0, ldd);
        }
      }
      return;
    }
  }
  std::fill(dst, dst + rows * ldd, S(0));
  for (std::int64_t r = 0; r < R; ++r) {
    const S* x = X.row(b, h, r);
    for (std::int64_t c = 0; c < hs; ++c) (transposed ? dst[c * ldd + r] : dst[r * ldd + c]) = x[c];
  }
}

// kLanes values of S as one GCC vector: the compiler keeps the accumulators below in registers (as
// arrays indexed by lane they lived on the stack, each step a store and a reload), and each lane's
// arithmetic is the plain loop's, a product then a sum, rounded as written.
template <typename S>
struct LanesOf;
template <>
struct LanesOf<float> {
  typedef float type __attribute__((vector_size(kLanes * sizeof(float))));
};
template <>
struct LanesOf<double> {
  typedef double type __attribute__((vector_size(kLanes * sizeof(double))));
};
template <typename S>
using Lanes = typename LanesOf<S>::type;

// The first n of v's lanes to out
template <typename S>
inline void store_lanes(const Lanes<S>& v, S* out, std::int64_t n) {
  if (n == kLanes) {
    std::memcpy(out, &v, sizeof v);
  } else {
    S lanes[kLanes];
    std::memcpy(lanes, &v, sizeof v);
    std::copy(lanes, lanes + n, out);
  }
}

// out[n] = sum over k in [k0, k1) of w[k] * m[k * ldm + n] for n < n_out, in k order (m padded to kLanes)
template <typename S>
inline void weighted_rows(const S* w, const S* m, std::int64_t ldm, std::int64_t k0, std::int64_t k1, S* out,
                          std::int64_t n_out, std::int64_t w_stride = 1) {
  for (std::int64_t n0 = 0; n0 < n_out; n0 += kLanes) {
    Lanes<S> acc = {};
    for (std::int64_t k = k0; k < k1; ++k) {
      Lanes<S> mk;
      std::memcpy(&mk, m + k * ldm + n0, sizeof mk);
      acc += w[k * w_stride] * mk;
    }
    store_lanes(acc, out + n0, std::min(kLanes, n_out - n0));
  }
}

// R rows of weighted_rows over the same k range at once (R independent chains of sums, each formed in
// k order as weighted_rows forms it): w[r] + k * w_stride, out[r]
template <int R, typename S>
inline void weighted_rows_n(const S* const* w, std::int64_t w_stride, const S* m, std::int64_t ldm, std::int64_t k0,
                            std::int64_t k1, S* const* out, std::int64_t n_out) {
  for (std::int64_t n0 = 0; n0 < n_out; n0 += kLanes) {
    Lanes<S> acc[R] = {};
    for (std::int64_t k = k0; k < k1; ++k) {
      Lanes<S> mk;
      std::memcpy(&mk, m + k * ldm + n0, sizeof mk);
      for (int r = 0; r < R; ++r) acc[r] += w[r][k * w_stride] * mk;
    }
    const std::int64_t n = std::min(kLanes, n_out - n0);
    for (int r = 0; r < R; ++r) store_lanes(acc[r], out[r] + n0, n);
  }
}

// weighted_rows for rows = count rows (w(r), out(r) give row r's), four at a time
template <typename S, typename W, typename O>
inline void weighted_rows_all(std::int64_t count, W w, std::int64_t w_stride, const S* m, std::int64_t ldm,
                              std::int64_t k0, std::int64_t k1, O out, std::int64_t n_out) {
  std::int64_t r = 0;
  for (; r + 4 <= count; r += 4) {
    const S* ws[4] = {w(r), w(r + 1), w(r + 2), w(r + 3)};
    S* os[4] = {out(r), out(r + 1), out(r + 2), out(r + 3)};
    weighted_rows_n<4>(ws, w_stride, m, ldm, k0, k1, os, n_out);
  }
  for (; r < count; ++r) weighted_rows(w(r), m, ldm, k0, k1, out(r), n_out, w_stride);
}

// Head (b, h)'s T rows as weighted_rows reads them, with row stride *ld: in place where each row is a
// whole number of lane blocks (hs a multiple of kLanes: the same values, no copy), else copied into dst
// [T, padded(hs)] with zeros after each row's hs.
template <typename S>
inline const S* head_rows(const Heads<S>& X, std::int64_t b, std::int64_t h, std::int64_t T, std::int64_t hs, S* dst,
                          std::int64_t* ld) {
  if (hs % kLanes == 0) {
    *ld = X.st;
    return X.row(b, h, 0);
  }
  *ld = padded(hs);
  copy_head(X, b, h, T, hs, false, dst, *ld, T);
  return dst;
}

// scratch: hs * Tp + Tp * Tp + T * Hp values
template <typename S>
BPN_KERNEL_LOOP void attention_forward_loop(Heads<S> Q, Heads<S> K, Heads<S> V, std::int64_t B, std::int64_t nh,
                                            std::int64_t T, std::int64_t hs, S s, S* pp, S* py, S* scratch) {
  const std::int64_t Tp = padded(T);
  S *kt = scratch, *dots = kt + hs * Tp, *vp = dots + Tp * Tp;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < nh; ++h) {
      copy_head(K, b, h, T, hs, true, kt, Tp, hs);  // k^T [hs, Tp]
      std::int64_t ldv = 0;
      const S* v = head_rows(V, b, h, T, hs, vp, &ldv);  // v [T, hs]
      // dots[i, j] = q_i . k_j
      weighted_rows_all<S>(
          T, [&](std::int64_t i) { return Q.row(b, h, i); }, 1, kt, Tp, 0, hs,
          [&](std::int64_t i) { return dots + i * Tp; }, T);
      for (std::int64_t i = 0; i < T; ++i) {
        S* p = pp + ((b * nh + h) * T + i) * T;
        const S* dots_i = dots + i * Tp;
        S mx = -std::numeric_limits<S>::infinity();
        for (std::int64_t j = 0; j <= i; ++j) {
          p[j] = dots_i[j] * s;
          mx = std::max(mx, p[j]);
        }
        S sum = 0;
        for (std::int64_t j = 0; j <= i; ++j) sum += (p[j] = std::exp(p[j] - mx));
        const S inv = S(1) / sum;
        for (std::int64_t j = 0; j <= i; ++j) p[j] *= inv;
        weighted_rows(p, v, ldv, 0, i + 1, py + (b * T + i) * nh * hs + h * hs, hs);  // y_i = sum_j p_ij v_j
      }
    }
  }
}

// dq_i = sum_{j<=i} d_ij k_j, dk_j = sum_{i>=j} d_ij q_i, with d = datt * scale (pd: datt, [B, nh, T, T]).
// scratch: T * Hp * 2 + T * T values
template <typename S>
BPN_KERNEL_LOOP void attention_scores_backward_loop(Heads<S> Q, Heads<S> K, Heads<S> DQ, Heads<S> DK, std::int64_t B,
                                                    std::int64_t nh, std::int64_t T, std::int64_t hs, const S* pd, S s,
                                                    S* scratch) {
  const std::int64_t Hp = padded(hs);
  S *kp = scratch, *qp = kp + T * Hp, *d = qp + T * Hp;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < nh; ++h) {
      const S* datt = pd + (b * nh + h) * T * T;
      for (std::int64_t e = 0; e < T * T; ++e) d[e] = datt[e] * s;
      std::int64_t ldk = 0, ldq = 0;
      const S* k = head_rows(K, b, h, T, hs, kp, &ldk);
      const S* q = head_rows(Q, b, h, T, hs, qp, &ldq);
      for (std::int64_t i = 0; i < T; ++i) weighted_rows(d + i * T, k, ldk, 0, i + 1, DQ.row(b, h, i), hs);
      for (std::int64_t j = 0; j < T; ++j) weighted_rows(d + j, q, ldq, j, T, DK.row(b, h, j), hs, T);
    }
  }
}

// dprobs_ij = dy_i . v_j for every j (the future's dprobs is not zero, only its probs are);
// dv_j = sum_i probs_ij dy_i. scratch: hs * Tp + T * Hp values
template <typename S>
BPN_KERNEL_LOOP void attention_values_backward_loop(Heads<S> DY, Heads<S> V, Heads<S> DV, std::int64_t B,
                                                    std::int64_t nh, std::int64_t T, std::int64_t hs, const S* pp,
                                                    S* pdp, S* scratch) {
  const std::int64_t Tp = padded(T);
  S *vt = scratch, *dyp = vt + hs * Tp;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < nh; ++h) {
      const S* p = pp + (b * nh + h) * T * T;
      S* dp = pdp + (b * nh + h) * T * T;
      copy_head(V, b, h, T, hs, true, vt, Tp, hs);  // v^T [hs, Tp]
      std::int64_t ldy = 0;
      const S* dy = head_rows(DY, b, h, T, hs, dyp, &ldy);  // dy [T, hs]
      weighted_rows_all<S>(
          T, [&](std::int64_t i) { return DY.row(b, h, i); }, 1, vt, Tp, 0, hs,
          [&](std::int64_t i) { return dp + i * T; }, T);
      weighted_rows_all<S>(
          T, [&](std::int64_t j) { return p + j; }, T, dy, ldy, 0, T, [&](std::int64_t j) { return DV.row(b, h, j); },
          hs);
    }
  }
}
// LayerNorm's loops, compiled like the attention's (below): kRowBlock rows side by side, each row's
// sums formed in c order as a loop over that row alone forms them, so that the rows' dependency chains
// overlap instead of waiting on each other.
constexpr std::int64_t kRowBlock = 8;

// One pass per row: mean and biased variance (accumulated in double), rstd, xhat, and (po given) the
// output from them.
template <typename S>
BPN_KERNEL_LOOP void layernorm_forward_loop(const S* __restrict px, const S* __restrict pw, const S* __restrict pb,
                                            std::int64_t rows, std::int64_t C, S* __restrict ph, S* __restrict pr,
                                            S* __restrict po) {
  for (std::int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
    const std::int64_t n = std::min(kRowBlock, rows - r0);
    double sum[kRowBlock] = {}, sq[kRowBlock] = {}, mean[kRowBlock] = {};
    const S* x = px + r0 * C;
    if (n == kRowBlock) {
      for (std::int64_t c = 0; c < C; ++c) {
        for (std::int64_t k = 0; k < kRowBlock; ++k) sum[k] += x[k * C + c];
      }
      for (std::int64_t k = 0; k < kRowBlock; ++k) mean[k] = sum[k] / static_cast<double>(C);
      for (std::int64_t c = 0; c < C; ++c) {
        for (std::int64_t k = 0; k < kRowBlock; ++k) sq[k] += (x[k * C + c] - mean[k]) * (x[k * C + c] - mean[k]);
      }
    } else {
      for (std::int64_t k = 0; k < n; ++k) {
        for (std::int64_t c = 0; c < C; ++c) sum[k] += x[k * C + c];
        mean[k] = sum[k] / static_cast<double>(C);
        for (std::int64_t c = 0; c < C; ++c) sq[k] += (x[k * C + c] - mean[k]) * (x[k * C + c] - mean[k]);
      }
    }
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t r = r0 + k;
      const S rstd = static_cast<S>(1.0 / std::sqrt(sq[k] / static_cast<double>(C) + kLayerNormEps));
      const S m = static_cast<S>(mean[k]);
      pr[r] = rstd;
      const S* xr = px + r * C;
      for (std::int64_t c = 0; c < C; ++c) ph[r * C + c] = (xr[c] - m) * rstd;
      if (po) {
        for (std::int64_t c = 0; c < C; ++c) po[r * C + c] = pb[c] + ph[r * C + c] * pw[c];
      }
    }
  }
}

// The closed form, one pass per row for dx; dw and db accumulate over the rows, in row order, in double.
template <typename S>
BPN_KERNEL_LOOP void layernorm_backward_loop(const S* __restrict pd, const S* __restrict ph, const S* __restrict pr,
                                             const S* __restrict pw, std::int64_t rows, std::int64_t C,
                                             S* __restrict px, double* __restrict dw, double* __restrict db) {
  const S Cs = static_cast<S>(C);
  for (std::int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
    const std::int64_t n = std::min(kRowBlock, rows - r0);
    S sg[kRowBlock] = {}, sgh[kRowBlock] = {};  // sum_C g, sum_C g xhat, with g = dout * w
    const S *d = pd + r0 * C, *h = ph + r0 * C;
    if (n == kRowBlock) {
      for (std::int64_t c = 0; c < C; ++c) {
        for (std::int64_t k = 0; k < kRowBlock; ++k) {
          const S g = d[k * C + c] * pw[c];
          sg[k] += g;
          sgh[k] += g * h[k * C + c];
        }
      }
    } else {
      for (std::int64_t k = 0; k < n; ++k) {
        for (std::int64_t c = 0; c < C; ++c) {
          const S g = d[k * C + c] * pw[c];
          sg[k] += g;
          sgh[k] += g * h[k * C + c];
        }
      }
    }
    for (std::int64_t k = 0; k < n; ++k) {
      const S *dr = d + k * C, *hr = h + k * C;
      for (std::int64_t c = 0; c < C; ++c) {
        dw[c] += static_cast<double>(dr[c]) * hr[c];
        db[c] += dr[c];
      }
      const S kr = pr[r0 + k] / Cs;
      S* xr = px + (r0 + k) * C;
      for (std::int64_t c = 0; c < C; ++c) xr[c] = kr * (Cs * (dr[c] * pw[c]) - sg[k] - hr[c] * sgh[k]);
    }
  }
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
        layernorm_forward_loop(xc.data_ptr<scalar_t>(), wc.data_ptr<scalar_t>(), bc.data_ptr<scalar_t>(), rows, C,
                               saved->xhat.data_ptr<scalar_t>(), saved->rstd.data_ptr<scalar_t>(),
                               output ? out.data_ptr<scalar_t>() : nullptr);
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
    layernorm_backward_loop(d.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), rs.data_ptr<scalar_t>(),
                            wc.data_ptr<scalar_t>(), rows, C, r.dx.data_ptr<scalar_t>(), dw.data(), db.data());
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

// u = sqrt(2/pi) (x + 0.044715 x^3), then (after the tanh) 0.5 x (1 + t)
template <typename T>
BPN_KERNEL_LOOP void gelu_inner_loop(const T* __restrict x, T* __restrict u, std::int64_t n) {
  const T c = static_cast<T>(kGeluC), a = static_cast<T>(0.044715);
  for (std::int64_t i = 0; i < n; ++i) u[i] = c * (x[i] + a * x[i] * x[i] * x[i]);
}
template <typename T>
BPN_KERNEL_LOOP void gelu_output_loop(const T* __restrict x, const T* __restrict t, T* __restrict out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = T(0.5) * x[i] * (T(1) + t[i]);
}

template <typename T>
BPN_KERNEL_LOOP void gelu_backward_loop(const T* __restrict d, const T* __restrict x, const T* __restrict t,
                                        T* __restrict out, std::int64_t n) {
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
        const std::int64_t n = xc.numel();
        gelu_inner_loop(px, pt, n);
        tanh_in_place(pt, n, *tanh_u);
        gelu_output_loop(px, pt, po, n);
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
    std::vector<scalar_t> scratch(static_cast<std::size_t>((hs + padded(T)) * padded(T) + T * padded(hs)));
    attention_forward_loop(heads_of<scalar_t>(qc), heads_of<scalar_t>(kc), heads_of<scalar_t>(vc), B, nh, T, hs,
                           static_cast<scalar_t>(scale), f.probs.data_ptr<scalar_t>(), f.y.data_ptr<scalar_t>(),
                           scratch.data());
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
    std::vector<scalar_t> scratch(static_cast<std::size_t>(2 * T * padded(hs) + T * T));
    attention_scores_backward_loop(heads_of<scalar_t>(qc), heads_of<scalar_t>(kc), heads_of<scalar_t>(r.dq),
                                   heads_of<scalar_t>(r.dk), B, nh, T, hs, dc.data_ptr<scalar_t>(),
                                   static_cast<scalar_t>(scale), scratch.data());
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
    std::vector<scalar_t> scratch(static_cast<std::size_t>(hs * padded(T) + T * padded(hs)));
    attention_values_backward_loop(heads_of<scalar_t>(dyc), heads_of<scalar_t>(vc), heads_of<scalar_t>(r.dv), B, nh, T,
                                   hs, pc.data_ptr<scalar_t>(), r.dprobs.data_ptr<scalar_t>(), scratch.data());
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
