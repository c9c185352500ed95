#include "kernel/mlp_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/loop_clones.h"
#include "kernel/mlp_kernel.h"
#include "kernel/vector_math.h"
#include "models/mlp/config.h"
#include "util/errors.h"

namespace bpn::kernel {
namespace {

// Rows per chunk: hprebn [512, 200] float32 is 400 KB, which stays in this machine's 1.25 MB L2.
constexpr std::int64_t kChunkRows = 512;

struct Shapes {
  std::int64_t T, E, H, V;
};

Shapes shapes_of(const model::Params& p, const at::Tensor& X) {
  require_kernel_params(p, "the evaluation kernel");
  const Shapes s{p.W1.size(0) / p.C.size(1), p.C.size(1), p.W1.size(1), p.C.size(0)};
  if (X.dim() != 2 || X.size(1) != s.T || X.scalar_type() != at::kLong || !X.is_contiguous() || !X.device().is_cpu()) {
    throw InputError("the evaluation kernel needs contexts as a contiguous int64 CPU tensor [N, " +
                     std::to_string(s.T) + "]");
  }
  const std::int64_t* x = X.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < X.numel(); ++k) {
    if (x[k] < 0 || x[k] >= s.V) {
      throw InputError("context index " + std::to_string(x[k]) + " is outside the " + std::to_string(s.V) +
                       " rows of C");
    }
  }
  return s;
}

// sums[j] += x[i, j] over the m rows, in double.
BPN_KERNEL_LOOP void add_column_sums(const float* __restrict x, std::int64_t m, std::int64_t H,
                                     double* __restrict sums) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < H; ++j) sums[j] += x[i * H + j];
  }
}

// squares[j] += (x[i, j] - mean[j])^2 over the m rows, in double (the difference in double, too).
BPN_KERNEL_LOOP void add_column_squares(const float* __restrict x, const double* __restrict mean, std::int64_t m,
                                        std::int64_t H, double* __restrict squares) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < H; ++j) {
      const double d = static_cast<double>(x[i * H + j]) - mean[j];
      squares[j] += d * d;
    }
  }
}

// hpreact = bngain * (hprebn - bnmean) * inv + bnbias, in float32 and in the tensor-op version's order.
BPN_KERNEL_LOOP void batchnorm_inference(const float* __restrict x, const float* __restrict bngain,
                                         const float* __restrict bnmean, const float* __restrict inv,
                                         const float* __restrict bnbias, std::int64_t m, std::int64_t H,
                                         float* __restrict y) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < H; ++j) y[i * H + j] = bngain[j] * (x[i * H + j] - bnmean[j]) * inv[j] + bnbias[j];
  }
}

}  // namespace

BatchNormMoments calibrate_batchnorm(const model::Params& p, const at::Tensor& X) {
  const Shapes s = shapes_of(p, X);
  const std::int64_t n = X.size(0);
  if (n < 2) throw InputError("BatchNorm's calibration needs at least 2 rows (the variance divides by n-1)");
  std::vector<float> embcat(static_cast<std::size_t>(kChunkRows * s.T * s.E));
  std::vector<float> hprebn(static_cast<std::size_t>(kChunkRows * s.H));
  std::vector<double> sums(static_cast<std::size_t>(s.H), 0.0), squares(static_cast<std::size_t>(s.H), 0.0);
  const std::int64_t* x = X.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; i += kChunkRows) {
    const std::int64_t m = std::min(kChunkRows, n - i);
    hprebn_rows(p, x + i * s.T, m, embcat.data(), hprebn.data());
    add_column_sums(hprebn.data(), m, s.H, sums.data());
  }
  for (double& v : sums) v /= static_cast<double>(n);  // the mean, in double
  for (std::int64_t i = 0; i < n; i += kChunkRows) {
    const std::int64_t m = std::min(kChunkRows, n - i);
    hprebn_rows(p, x + i * s.T, m, embcat.data(), hprebn.data());
    add_column_squares(hprebn.data(), sums.data(), m, s.H, squares.data());
  }
  BatchNormMoments out{at::empty({1, s.H}, p.W1.options()), at::empty({1, s.H}, p.W1.options())};
  for (std::int64_t j = 0; j < s.H; ++j) {
    out.mean.data_ptr<float>()[j] = static_cast<float>(sums[j]);
    out.var.data_ptr<float>()[j] = static_cast<float>(squares[j] / static_cast<double>(n - 1));
  }
  return out;
}

double mean_loss(const model::Params& p, const at::Tensor& bnmean, const at::Tensor& bnvar, const at::Tensor& X,
                 const at::Tensor& Y) {
  const Shapes s = shapes_of(p, X);
  const std::int64_t n = X.size(0);
  if (n == 0) return std::nan("");
  if (Y.dim() != 1 || Y.size(0) != n || Y.scalar_type() != at::kLong || !Y.is_contiguous() || !Y.device().is_cpu()) {
    throw InputError("the evaluation kernel needs targets as a contiguous int64 CPU tensor [" + std::to_string(n) +
                     "]");
  }
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t t = Y.data_ptr<std::int64_t>()[k];
    if (t < 0 || t >= s.V) {
      throw InputError("target " + std::to_string(t) + " is outside the " + std::to_string(s.V) + " classes");
    }
  }
  const at::Tensor mean = bnmean.to(at::kFloat).contiguous(), var = bnvar.to(at::kFloat).contiguous();
  if (mean.numel() != s.H || var.numel() != s.H) {
    throw InputError("the BatchNorm statistics must have " + std::to_string(s.H) + " entries");
  }
  // inv = (bnvar + eps)^-0.5 in float32, as the tensor-op version's pow(-0.5) of a float32 tensor
  std::vector<float> inv(static_cast<std::size_t>(s.H));
  for (std::int64_t j = 0; j < s.H; ++j) {
    inv[j] = 1.0f / std::sqrt(var.data_ptr<float>()[j] + static_cast<float>(model::kBnEps));
  }
  std::vector<float> embcat(static_cast<std::size_t>(kChunkRows * s.T * s.E));
  std::vector<float> hprebn(static_cast<std::size_t>(kChunkRows * s.H)), h(hprebn.size());
  std::vector<float> logits(static_cast<std::size_t>(kChunkRows * s.V)), e(logits.size());
  std::vector<float> row_max(static_cast<std::size_t>(kChunkRows));
  std::vector<double> row_sum(static_cast<std::size_t>(kChunkRows));
  const std::int64_t* x = X.data_ptr<std::int64_t>();
  const std::int64_t* y = Y.data_ptr<std::int64_t>();
  double total = 0.0;  // the sum of the per-row losses
  for (std::int64_t i = 0; i < n; i += kChunkRows) {
    const std::int64_t m = std::min(kChunkRows, n - i);
    hprebn_rows(p, x + i * s.T, m, embcat.data(), hprebn.data());
    batchnorm_inference(hprebn.data(), p.bngain.data_ptr<float>(), mean.data_ptr<float>(), inv.data(),
                        p.bnbias.data_ptr<float>(), m, s.H, h.data());  // hpreact
    vector_tanh(h.data(), h.data(), m * s.H);                           // h = tanh(hpreact), in place
    linear_rows(h.data(), p.W2.data_ptr<float>(), p.b2.data_ptr<float>(), m, s.H, s.V, logits.data());
    // loss_r = log(sum_j exp(logits_rj - max_r)) + max_r - logits_r[Y_r], as the training step's
    total += cross_entropy_rows(logits.data(), y + i, m, s.V, e.data(), row_max.data(), row_sum.data());
  }
  return total / static_cast<double>(n);
}

}  // namespace bpn::kernel
