// Synthetic batches and autograd references for the gradient tests.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "models/mlp/backward.h"
#include "models/mlp/forward.h"
#include "models/mlp/params.h"

namespace bpn::testing {

struct Synthetic {
  model::Params p;
  at::Tensor Xb, Yb;
};

// Parameters drawn as the notebook draws them (init_params), and a random batch.
Synthetic synthetic(std::int64_t n, std::int64_t vocab, std::int64_t block, std::int64_t n_embd, std::int64_t n_hidden,
                    std::uint64_t seed, at::ScalarType dtype = at::kFloat);

// Autograd's gradients of all 26 tensors of the chunked graph; `f` receives the forward.
std::map<std::string, at::Tensor> chunked_autograd(model::Params& p, model::ChunkedForward& f, const at::Tensor& Xb,
                                                   const at::Tensor& Yb);

// Autograd's gradients of the fused graph (6 intermediates + 7 parameters, named as FusedGrads::named()).
std::map<std::string, at::Tensor> fused_autograd(model::Params& p, model::FusedForward& f, const at::Tensor& Xb,
                                                 const at::Tensor& Yb);

// The verdict rule (verify/verdict.h) over a whole graph: every manual gradient, computed in the
// parameters' dtype, against autograd of the same parameters in float64, bounded by float32
// autograd's own error (16x) plus 64 ULPs of the tensor's scale. The two analytically-zero gradients
// (dlogit_maxes, db1) get the rounding scale of the sum that computes them. This is the same rule
// `bpninja check` applies; the float32 closed forms are not always allclose to float32 autograd
// (docs/derivations.md#float32-and-allclose), and this rule does not ask them to be.
struct Accuracy {
  bool pass = true;
  std::string detail;
};
Accuracy chunked_accuracy(const model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb);
Accuracy fused_accuracy(const model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb);

}  // namespace bpn::testing
