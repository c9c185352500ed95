#include "models/mlp/forward.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/mlp/backward_table.h"
#include "models/mlp/wide.h"
#include "util/errors.h"

namespace bpn::model {

std::vector<std::pair<std::string, at::Tensor>> ChunkedForward::intermediates() const {
  return {{"logprobs", logprobs},
          {"probs", probs},
          {"counts", counts},
          {"counts_sum", counts_sum},
          {"counts_sum_inv", counts_sum_inv},
          {"norm_logits", norm_logits},
          {"logit_maxes", logit_maxes},
          {"logits", logits},
          {"h", h},
          {"hpreact", hpreact},
          {"bnraw", bnraw},
          {"bnvar_inv", bnvar_inv},
          {"bnvar", bnvar},
          {"bndiff2", bndiff2},
          {"bndiff", bndiff},
          {"hprebn", hprebn},
          {"bnmeani", bnmeani},
          {"embcat", embcat},
          {"emb", emb}};
}

std::string variance_name(Variance v) { return v == Variance::kUnbiased ? "unbiased" : "biased"; }

void check_batch(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb) {
  if (Xb.dim() != 2 || Yb.dim() != 1 || Xb.size(0) != Yb.size(0)) {
    throw InputError("batch: Xb must be [n, block_size] and Yb [n]");
  }
  if (Xb.size(0) < 2) {
    throw InputError("batch size " + std::to_string(Xb.size(0)) +
                     " is too small: BatchNorm's variance divides by n-1, so use a batch of at least 2");
  }
  if (Xb.size(1) * p.C.size(1) != p.W1.size(0)) {
    throw InputError("batch: block_size * n_embd does not match W1's first dimension");
  }
}

namespace {
// Gives the hook its chance to replace `value`, then returns it.
at::Tensor step(const ForwardHook& hook, const char* name, at::Tensor value) {
  if (hook) hook(name, value);
  return value;
}
}  // namespace

ChunkedForward chunked_forward(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb, const ForwardHook& hook) {
  check_batch(p, Xb, Yb);
  const auto n = Xb.size(0);
  const auto& H = hook;
  ChunkedForward f;
  f.emb = step(H, "emb", p.C.index({Xb}));
  f.embcat = step(H, "embcat", f.emb.view({f.emb.size(0), -1}));
  f.hprebn = step(H, "hprebn", f.embcat.matmul(p.W1) + p.b1);
  // BatchNorm layer
  f.bnmeani = step(H, "bnmeani", 1.0 / static_cast<double>(n) * f.hprebn.sum({0}, /*keepdim=*/true));
  f.bndiff = step(H, "bndiff", f.hprebn - f.bnmeani);
  f.bndiff2 = step(H, "bndiff2", f.bndiff.pow(2));
  f.bnvar = step(H, "bnvar", 1.0 / static_cast<double>(n - 1) * f.bndiff2.sum({0}, /*keepdim=*/true));
  f.bnvar_inv = step(H, "bnvar_inv", (f.bnvar + kBnEps).pow(-0.5));
  f.bnraw = step(H, "bnraw", f.bndiff * f.bnvar_inv);
  f.hpreact = step(H, "hpreact", p.bngain * f.bnraw + p.bnbias);
  f.h = step(H, "h", at::tanh(f.hpreact));
  f.logits = step(H, "logits", f.h.matmul(p.W2) + p.b2);
  // cross entropy, step by step
  auto [maxes, argmax] = f.logits.max(1, /*keepdim=*/true);
  f.logit_maxes = step(H, "logit_maxes", maxes);
  f.logit_argmax = argmax;
  f.norm_logits = step(H, "norm_logits", f.logits - f.logit_maxes);
  f.counts = step(H, "counts", f.norm_logits.exp());
  f.counts_sum = step(H, "counts_sum", f.counts.sum({1}, /*keepdim=*/true));
  f.counts_sum_inv = step(H, "counts_sum_inv", f.counts_sum.pow(-1));
  f.probs = step(H, "probs", f.counts * f.counts_sum_inv);
  f.logprobs = step(H, "logprobs", f.probs.log());
  const auto rows = at::arange(n, Yb.options());
  f.loss = -f.logprobs.index({rows, Yb}).mean();
  return f;
}

namespace {
template <typename T>
void batchnorm_forward_loop(const T* x, const T* gain, const T* bias, std::int64_t n, std::int64_t H, T divisor,
                            T* mean, T* var, T* var_inv, T* x_hat, T* out) {
  // Batch sums in a wider type (model/wide.h): as accurate as ATen's cascaded sums at any batch size.
  std::vector<Wide<T>> sum(static_cast<std::size_t>(H), 0), sum_sq(static_cast<std::size_t>(H), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < H; ++j) sum[static_cast<std::size_t>(j)] += x[i * H + j];
  }
  for (std::int64_t j = 0; j < H; ++j)
    mean[j] = static_cast<T>(sum[static_cast<std::size_t>(j)] / static_cast<Wide<T>>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < H; ++j) {
      const T deviation = x[i * H + j] - mean[j];
      sum_sq[static_cast<std::size_t>(j)] += static_cast<Wide<T>>(deviation) * deviation;
    }
  }
  for (std::int64_t j = 0; j < H; ++j) {
    var[j] = static_cast<T>(sum_sq[static_cast<std::size_t>(j)] / static_cast<Wide<T>>(divisor));
    var_inv[j] = T{1} / std::sqrt(var[j] + static_cast<T>(kBnEps));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < H; ++j) {
      const std::int64_t e = i * H + j;
      x_hat[e] = (x[e] - mean[j]) * var_inv[j];
      out[e] = gain[j] * x_hat[e] + bias[j];
    }
  }
}

void require_two_rows(const at::Tensor& hprebn) {
  if (hprebn.size(0) < 2) {
    throw InputError("batch size " + std::to_string(hprebn.size(0)) +
                     " is too small: BatchNorm's variance divides by n-1, so use a batch of at least 2");
  }
}
}  // namespace

BatchNormForward batchnorm_forward(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                                   Variance variance) {
  require_two_rows(hprebn);
  const bool loop = hprebn.device().is_cpu() && bngain.device().is_cpu() && bnbias.device().is_cpu() &&
                    (hprebn.scalar_type() == at::kFloat || hprebn.scalar_type() == at::kDouble) &&
                    bngain.scalar_type() == hprebn.scalar_type() && bnbias.scalar_type() == hprebn.scalar_type() &&
                    !hprebn.requires_grad() && !bngain.requires_grad() && !bnbias.requires_grad();
  // Anything autograd should see goes through the tensor ops.
  if (!loop || at::GradMode::is_enabled()) return batchnorm_forward_ops(hprebn, bngain, bnbias, variance);
  const auto n = hprebn.size(0), H = hprebn.size(1);
  const at::Tensor x = hprebn.contiguous(), g = bngain.contiguous(), b = bnbias.contiguous();
  BatchNormForward bn;
  bn.bnmean = at::empty({1, H}, x.options());
  bn.bnvar = at::empty({1, H}, x.options());
  bn.bnvar_inv = at::empty({1, H}, x.options());
  bn.bnraw = at::empty_like(x);
  bn.hpreact = at::empty_like(x);
  const double divisor = variance == Variance::kUnbiased ? static_cast<double>(n - 1) : static_cast<double>(n);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "batchnorm_forward", [&] {
    batchnorm_forward_loop(x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(), n, H,
                           static_cast<scalar_t>(divisor), bn.bnmean.data_ptr<scalar_t>(),
                           bn.bnvar.data_ptr<scalar_t>(), bn.bnvar_inv.data_ptr<scalar_t>(),
                           bn.bnraw.data_ptr<scalar_t>(), bn.hpreact.data_ptr<scalar_t>());
  });
  return bn;
}

BatchNormForward batchnorm_forward_ops(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                                       Variance variance) {
  require_two_rows(hprebn);
  BatchNormForward bn;
  const auto n = static_cast<double>(hprebn.size(0));
  bn.bnmean = hprebn.mean({0}, /*keepdim=*/true);
  const at::Tensor bndiff = hprebn - bn.bnmean;
  // The variance from the deviations, not hprebn.var(): the same value, but ATen 1.13's var kernel
  // (Welford) takes ~95 us on a [32, 200] batch against ~10 us for these three ops.
  bn.bnvar = (bndiff * bndiff).sum({0}, /*keepdim=*/true) / (variance == Variance::kUnbiased ? n - 1.0 : n);
  bn.bnvar_inv = (bn.bnvar + kBnEps).rsqrt();
  bn.bnraw = bndiff * bn.bnvar_inv;
  bn.hpreact = bngain * bn.bnraw + bnbias;
  return bn;
}

at::Tensor hpreact_fast(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                        Variance variance) {
  const bool unbiased = variance == Variance::kUnbiased;
  return bngain * (hprebn - hprebn.mean({0}, true)) / at::sqrt(hprebn.var({0}, unbiased, true) + kBnEps) + bnbias;
}

at::Tensor cross_entropy_forward(const at::Tensor& logits, const at::Tensor& Yb) {
  return at::cross_entropy_loss(logits, Yb);
}

FusedForward fused_forward(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb, Variance variance,
                           const ForwardHook& hook, const BackwardTable& table) {
  check_batch(p, Xb, Yb);
  const auto& H = hook;
  FusedForward f;
  f.emb = step(H, "emb", at::embedding(p.C, Xb));  // = C[Xb], one kernel instead of advanced indexing
  f.embcat = step(H, "embcat", f.emb.view({f.emb.size(0), -1}));
  f.hprebn = step(H, "hprebn", f.embcat.matmul(p.W1) + p.b1);
  f.bn = table.batchnorm_forward(f.hprebn, p.bngain, p.bnbias, variance);
  f.bn.hpreact = step(H, "hpreact", f.bn.hpreact);
  f.h = step(H, "h", at::tanh(f.bn.hpreact));
  f.logits = step(H, "logits", f.h.matmul(p.W2) + p.b2);
  f.loss = cross_entropy_forward(f.logits, Yb);
  return f;
}

}  // namespace bpn::model
