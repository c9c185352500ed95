// Synthetic batches and autograd references for the gradient tests.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "model/backward.h"
#include "model/forward.h"
#include "model/params.h"

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

// The float32 closed forms (cross-entropy, BatchNorm) are not always allclose to float32 autograd:
// on elements that are small against their tensor, the two round differently, and allclose's
// atol of 1e-8 is below float32's resolution there. Both are equally accurate (measured:
// docs/derivations.md#float32-and-allclose). This checks the property that matters, against the
// float64 autograd gradient g64 of the same parameters: for every tensor of the fused graph,
//     max|manual32 - g64| <= 20 * max|autograd32 - g64| + 1e-4 * G
// where G is the largest |g64| over the graph's 13 tensors. The float32 errors are dominated by the
// float32 forward (small batches through BatchNorm are ill-conditioned), which both share; a wrong
// derivation is off by O(G). b1, whose exact gradient is 0, gets its rounding-noise bound added
// (see synthetic.cpp).
struct Accuracy {
  bool pass = true;
  std::string detail;
};
Accuracy fused_accuracy(const model::Params& p32, const at::Tensor& Xb, const at::Tensor& Yb);

}  // namespace bpn::testing
