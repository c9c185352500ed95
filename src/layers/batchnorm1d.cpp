#include "layers/batchnorm1d.h"

#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "layers/cpu_loops.h"
#include "util/errors.h"

namespace bpn::layers {

namespace {

// batchnorm1d_backward's closed form over [n, C] rows; work holds 2C doubles, k C values
template <typename T>
BPN_AVX2_CLONES void batchnorm1d_backward_loop(const T* __restrict d, const T* __restrict h, const T* __restrict inv,
                                               const T* __restrict gamma, std::int64_t n, std::int64_t C,
                                               T* __restrict dx, T* __restrict dgamma, T* __restrict dbeta,
                                               double* __restrict work, T* __restrict k) {
  double *sum_d = work, *sum_dh = work + C;
  for (std::int64_t c = 0; c < C; ++c) sum_d[c] = sum_dh[c] = 0.0;
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      sum_d[c] += d[r * C + c];
      sum_dh[c] += static_cast<double>(d[r * C + c]) * h[r * C + c];
    }
  }
  const T nt = static_cast<T>(n), bessel = static_cast<T>(n / (n - 1.0));
  for (std::int64_t c = 0; c < C; ++c) {
    dbeta[c] = static_cast<T>(sum_d[c]);
    dgamma[c] = static_cast<T>(sum_dh[c]);
    k[c] = gamma[c] * inv[c] / nt;
  }
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      dx[r * C + c] = k[c] * (nt * d[r * C + c] - dbeta[c] - bessel * h[r * C + c] * dgamma[c]);
    }
  }
}

// Per channel: mean and Bessel-corrected variance of [n, C] rows, two passes accumulated in double
template <typename T>
BPN_AVX2_CLONES void batch_statistics_loop(const T* __restrict x, std::int64_t n, std::int64_t C, T* __restrict mean,
                                           T* __restrict var, double* __restrict work) {
  double *sum = work, *sq = work + C;
  for (std::int64_t c = 0; c < C; ++c) sum[c] = sq[c] = 0.0;
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < C; ++c) sum[c] += x[r * C + c];
  }
  for (std::int64_t c = 0; c < C; ++c) sum[c] /= static_cast<double>(n);
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      const double dev = x[r * C + c] - sum[c];
      sq[c] += dev * dev;
    }
  }
  for (std::int64_t c = 0; c < C; ++c) {
    mean[c] = static_cast<T>(sum[c]);
    var[c] = static_cast<T>(sq[c] / static_cast<double>(n - 1));
  }
}

// xhat = (x - mean) * inv_std (or / std: the tensor ops' division, when `divide`), out = gamma xhat + beta
template <typename T>
BPN_AVX2_CLONES void normalize_loop(const T* __restrict x, std::int64_t n, std::int64_t C, const T* __restrict mean,
                                    const T* __restrict sd, const T* __restrict inv, const T* __restrict gamma,
                                    const T* __restrict beta, bool divide, T* __restrict xhat, T* __restrict out) {
  for (std::int64_t r = 0; r < n; ++r) {
    if (divide) {
      for (std::int64_t c = 0; c < C; ++c) xhat[r * C + c] = (x[r * C + c] - mean[c]) / sd[c];
    } else {
      for (std::int64_t c = 0; c < C; ++c) xhat[r * C + c] = (x[r * C + c] - mean[c]) * inv[c];
    }
    for (std::int64_t c = 0; c < C; ++c) out[r * C + c] = gamma[c] * xhat[r * C + c] + beta[c];
  }
}

}  // namespace

// See docs/derivations.md#batchnorm1d
BatchNormGrads batchnorm1d_backward(const at::Tensor& dout, const at::Tensor& xhat, const at::Tensor& inv_std,
                                    const at::Tensor& gamma) {
  const std::int64_t C = dout.size(-1);
  BatchNormGrads g;
  if (!cpu_loops({dout, xhat, inv_std, gamma})) {
    const at::Tensor d2 = dout.reshape({-1, C}), x2 = xhat.reshape({-1, C});
    const double n = static_cast<double>(d2.size(0));
    g.dbeta = d2.sum({0});          // sum dout
    g.dgamma = (d2 * x2).sum({0});  // sum dout * xhat
    g.dx =
        (gamma * inv_std.reshape({C}) / n * (n * d2 - g.dbeta - n / (n - 1.0) * x2 * g.dgamma)).reshape(dout.sizes());
    return g;
  }
  // The same closed form on the CPU in two passes over the [n, C] rows: the two column sums
  // (accumulated in double), then dx.
  const at::Tensor d = dout.contiguous(), h = xhat.contiguous(), is = inv_std.contiguous(), gm = gamma.contiguous();
  g.dx = at::empty_like(d);
  g.dbeta = at::empty({C}, d.options());
  g.dgamma = at::empty({C}, d.options());
  std::vector<double> work(static_cast<std::size_t>(2 * C));
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "batchnorm1d_backward", [&] {
    std::vector<scalar_t> k(static_cast<std::size_t>(C));
    batchnorm1d_backward_loop(d.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), is.data_ptr<scalar_t>(),
                              gm.data_ptr<scalar_t>(), d.numel() / C, C, g.dx.data_ptr<scalar_t>(),
                              g.dgamma.data_ptr<scalar_t>(), g.dbeta.data_ptr<scalar_t>(), work.data(), k.data());
  });
  return g;
}

BatchNorm1d::BatchNorm1d(std::int64_t dim)
    : gamma(at::ones({dim}, at::kFloat)),
      beta(at::zeros({dim}, at::kFloat)),
      running_mean(at::zeros({dim}, at::kFloat)),
      running_var(at::ones({dim}, at::kFloat)) {}

at::Tensor BatchNorm1d::forward(const at::Tensor& x) {
  if (x.dim() != 2 && x.dim() != 3) throw InputError("BatchNorm1d: the input must be [B, C] or [B, T, C]");
  const std::vector<std::int64_t> dims = x.dim() == 2 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 1};
  at::Tensor mean, var;
  if (training) {
    if (x.numel() / x.size(-1) < 2) {
      throw InputError(
          "BatchNorm1d: one position per channel; the variance divides by n-1, so use a batch of at least 2");
    }
    const bool loop = no_autograd(x) && cpu_loops({x, gamma, beta, running_mean, running_var});
    if (loop && loop_statistics) return forward_outside_autograd(x, at::Tensor(), at::Tensor());
    mean = x.mean(dims, /*keepdim=*/true);  // the lecture: xmean = x.mean(dim, keepdim=True)
    if (at::GradMode::is_enabled()) {
      var = x.var(dims, /*unbiased=*/true, /*keepdim=*/true);  // xvar = x.var(dim, keepdim=True)
    } else {
      // Outside autograd the same variance from the deviations: ATen 1.13's var kernel (Welford) takes
      // 128 us on [32, 4, 128] against 17 us for these three ops.
      const at::Tensor dev = x - mean;
      var = (dev * dev).sum(dims, /*keepdim=*/true) / static_cast<double>(x.numel() / x.size(-1) - 1);
      if (loop) return forward_outside_autograd(x, mean, var);
    }
  } else {
    mean = running_mean;
    var = running_var;
  }
  const at::Tensor std = at::sqrt(var + kBatchNormEps);
  const at::Tensor xhat = (x - mean) / std;  // xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
  {
    at::NoGradGuard no_grad;
    xhat_ = xhat.detach();
    inv_std_ = std.detach().reciprocal();
    if (training) {
      running_mean = (1.0 - kBatchNormMomentum) * running_mean + kBatchNormMomentum * mean.detach().reshape({-1});
      running_var = (1.0 - kBatchNormMomentum) * running_var + kBatchNormMomentum * var.detach().reshape({-1});
      ++updates;
    }
  }
  return gamma * xhat + beta;
}

at::Tensor BatchNorm1d::forward_outside_autograd(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& var) {
  const std::int64_t C = x.size(-1), rows = x.numel() / C;
  const at::Tensor xc = x.contiguous();
  const at::Tensor gm = gamma.contiguous(), bt = beta.contiguous(), rm = running_mean.contiguous(),
                   rv = running_var.contiguous();
  xhat_ = at::empty_like(xc);
  inv_std_ = at::empty_like(rm);
  at::Tensor new_mean = at::empty_like(rm), new_var = at::empty_like(rv), out = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "batchnorm1d_forward", [&] {
    using T = scalar_t;
    const T eps = static_cast<T>(kBatchNormEps), keep = static_cast<T>(1.0 - kBatchNormMomentum),
            mom = static_cast<T>(kBatchNormMomentum);
    const T *px = xc.data_ptr<T>(), *pg = gm.data_ptr<T>(), *pb = bt.data_ptr<T>();
    const T *prm = rm.data_ptr<T>(), *prv = rv.data_ptr<T>();
    T *pis = inv_std_.data_ptr<T>(), *pnm = new_mean.data_ptr<T>(), *pnv = new_var.data_ptr<T>();
    T *ph = xhat_.data_ptr<T>(), *po = out.data_ptr<T>();
    std::vector<T> m(static_cast<std::size_t>(C)), v(static_cast<std::size_t>(C)), sd(static_cast<std::size_t>(C));
    if (mean.defined()) {  // ATen's statistics (loop_statistics off)
      const at::Tensor meanc = mean.contiguous(), varc = var.contiguous();
      std::copy_n(meanc.data_ptr<T>(), C, m.begin());
      std::copy_n(varc.data_ptr<T>(), C, v.begin());
    } else {
      std::vector<double> work(static_cast<std::size_t>(2 * C));
      batch_statistics_loop(px, rows, C, m.data(), v.data(), work.data());
    }
    for (std::int64_t c = 0; c < C; ++c) {
      sd[c] = std::sqrt(v[c] + eps);  // std = sqrt(var + eps)
      pis[c] = T(1) / sd[c];          // std.reciprocal()
      pnm[c] = keep * prm[c] + mom * m[c];
      pnv[c] = keep * prv[c] + mom * v[c];
    }
    // With ATen's statistics, xhat = (x - mean) / std as the tensor ops divide (bit-identical); with
    // the loop's, a multiplication by 1/std (another rounding, and no division per element).
    normalize_loop(px, rows, C, m.data(), sd.data(), pis, pg, pb, /*divide=*/mean.defined(), ph, po);
  });
  running_mean = new_mean;
  running_var = new_var;
  ++updates;
  return out;
}

at::Tensor BatchNorm1d::backward(const at::Tensor& dout) {
  if (!training) {  // eval mode: a fixed affine map
    dgamma = (dout * xhat_).reshape({-1, dout.size(-1)}).sum({0});
    dbeta = dout.reshape({-1, dout.size(-1)}).sum({0});
    return dout * gamma * inv_std_;
  }
  BatchNormGrads g = table->batchnorm1d_backward(dout, xhat_, inv_std_, gamma);
  dgamma = g.dgamma;
  dbeta = g.dbeta;
  return g.dx;
}

}  // namespace bpn::layers
