// The MLP's evaluation on raw memory (issue 14): BatchNorm's statistics over the training split after
// training, and the mean cross-entropy of a split with those statistics fixed, in chunks of rows, with
// the training kernel's products (kernel/products.h) and libmvec's tanhf/expf.
// `train --path kernel` (the default) reports its losses from these; the tensor-op versions
// (train::calibrate_batchnorm, train::split_loss) stay as the reference, for `--path ops` and for the tests, which hold
// the two to the verdict rule against the same computation in float64 (tests/kernel/mlp_eval_test.cpp).
//
// Forward lines (the notebook's calibration and split_loss, per chunk of rows):
//   hprebn  = C[X].view(m, -1) @ W1 + b1                                   [m, H]
//   bnmean  = hprebn.mean(0),  bnvar = hprebn.var(0) (unbiased), both over all N rows, in double
//   hpreact = bngain * (hprebn - bnmean) * (bnvar + eps)^-0.5 + bnbias      [m, H]
//   logits  = tanh(hpreact) @ W2 + b2                                       [m, V]
//   loss    = mean over all N rows of logsumexp(logits_i) - logits_i[Y_i]
#pragma once

#include <ATen/ATen.h>

#include "models/mlp/params.h"

namespace bpn::kernel {

// BatchNorm's statistics over the rows X [N, T] (int64, contiguous, N >= 2) for float32 contiguous CPU
// parameters: the mean and the unbiased variance [1, H], accumulated in double over the chunks (two
// passes, as the tensor-op version does) and rounded once to float32.
struct BatchNormMoments {
  at::Tensor mean;  // [1, H]
  at::Tensor var;   // [1, H]
};
BatchNormMoments calibrate_batchnorm(const model::Params& p, const at::Tensor& X);

// The mean cross-entropy over the rows X [N, T], Y [N] with fixed BatchNorm statistics [1, H]; the
// per-row losses are summed in double. NaN when N is 0.
double mean_loss(const model::Params& p, const at::Tensor& bnmean, const at::Tensor& bnvar, const at::Tensor& X,
                 const at::Tensor& Y);

}  // namespace bpn::kernel
