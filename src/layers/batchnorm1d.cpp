#include "layers/batchnorm1d.h"

#include <ATen/Dispatch.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "layers/cpu_loops.h"
#include "util/errors.h"

namespace bpn::layers {

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
  const std::int64_t rows = d.numel() / C;
  g.dx = at::empty_like(d);
  g.dbeta = at::empty({C}, d.options());
  g.dgamma = at::empty({C}, d.options());
  std::vector<double> sum_d(static_cast<std::size_t>(C), 0.0), sum_dh(static_cast<std::size_t>(C), 0.0);
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "batchnorm1d_backward", [&] {
    const scalar_t *pd = d.data_ptr<scalar_t>(), *ph = h.data_ptr<scalar_t>(), *pi = is.data_ptr<scalar_t>();
    const scalar_t* pg = gm.data_ptr<scalar_t>();
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        sum_d[c] += pd[r * C + c];
        sum_dh[c] += static_cast<double>(pd[r * C + c]) * ph[r * C + c];
      }
    }
    scalar_t *pb = g.dbeta.data_ptr<scalar_t>(), *pgm = g.dgamma.data_ptr<scalar_t>();
    std::vector<scalar_t> k(static_cast<std::size_t>(C));
    const scalar_t n = static_cast<scalar_t>(rows), bessel = static_cast<scalar_t>(rows / (rows - 1.0));
    for (std::int64_t c = 0; c < C; ++c) {
      pb[c] = static_cast<scalar_t>(sum_d[c]);
      pgm[c] = static_cast<scalar_t>(sum_dh[c]);
      k[c] = pg[c] * pi[c] / n;
    }
    scalar_t* px = g.dx.data_ptr<scalar_t>();
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        px[r * C + c] = k[c] * (n * pd[r * C + c] - pb[c] - bessel * ph[r * C + c] * pgm[c]);
      }
    }
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
    } else {  // mean and Bessel-corrected variance per channel, two passes accumulated in double
      std::vector<double> sum(static_cast<std::size_t>(C), 0.0), sq(static_cast<std::size_t>(C), 0.0);
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < C; ++c) sum[c] += px[r * C + c];
      }
      for (std::int64_t c = 0; c < C; ++c) sum[c] /= static_cast<double>(rows);
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < C; ++c) {
          const double d = px[r * C + c] - sum[c];
          sq[c] += d * d;
        }
      }
      for (std::int64_t c = 0; c < C; ++c) {
        m[c] = static_cast<T>(sum[c]);
        v[c] = static_cast<T>(sq[c] / static_cast<double>(rows - 1));
      }
    }
    for (std::int64_t c = 0; c < C; ++c) {
      sd[c] = std::sqrt(v[c] + eps);  // std = sqrt(var + eps)
      pis[c] = T(1) / sd[c];          // std.reciprocal()
      pnm[c] = keep * prm[c] + mom * m[c];
      pnv[c] = keep * prv[c] + mom * v[c];
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        const T xh = (px[r * C + c] - m[c]) / sd[c];  // xhat = (x - mean) / std
        ph[r * C + c] = xh;
        po[r * C + c] = pg[c] * xh + pb[c];  // gamma * xhat + beta
      }
    }
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
