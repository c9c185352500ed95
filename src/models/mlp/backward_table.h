// The table of backward functions: the seam through which the drivers (chunked_backward,
// fused_backward, the training step, `check`) call every hand-derived function.
//
// hand_derived() holds the functions of model/backward.h and model/forward.h. A copy with one entry
// replaced is how a user plugs in their own implementation of one function and verifies it with the
// unchanged drivers, and how the mutation catalog (verify/mutants.h) injects one bug at a time.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "models/mlp/backward.h"
#include "models/mlp/forward.h"

namespace bpn::model {

struct BackwardTable {
  using T = at::Tensor;
  using CT = const at::Tensor&;
  // ---- Exercise 1, in the order of the chunked backward ----
  std::function<T(double, CT, CT)> loss_backward = model::loss_backward;
  std::function<T(CT, CT)> logprobs_backward = model::logprobs_backward;
  std::function<ProbsGrads(CT, CT, CT)> probs_backward = model::probs_backward;
  std::function<T(CT, CT)> counts_sum_inv_backward = model::counts_sum_inv_backward;
  std::function<T(CT, CT)> counts_sum_backward = model::counts_sum_backward;
  std::function<T(CT, CT)> counts_backward = model::counts_backward;
  std::function<NormLogitsGrads(CT)> norm_logits_backward = model::norm_logits_backward;
  std::function<T(CT, CT, CT)> logit_maxes_backward = model::logit_maxes_backward;
  std::function<LinearGrads(CT, CT, CT)> logits_backward = model::logits_backward;
  std::function<T(CT, CT)> h_backward = model::h_backward;
  std::function<HpreactGrads(CT, CT, CT)> hpreact_backward = model::hpreact_backward;
  std::function<BnrawGrads(CT, CT, CT)> bnraw_backward = model::bnraw_backward;
  std::function<T(CT, CT)> bnvar_inv_backward = model::bnvar_inv_backward;
  std::function<T(CT, CT)> bnvar_backward = model::bnvar_backward;
  std::function<T(CT, CT)> bndiff2_backward = model::bndiff2_backward;
  std::function<BndiffGrads(CT)> bndiff_backward = model::bndiff_backward;
  std::function<T(CT, CT)> bnmeani_backward = model::bnmeani_backward;
  std::function<LinearGrads(CT, CT, CT)> hprebn_backward = model::hprebn_backward;
  std::function<T(CT, CT)> embcat_backward = model::embcat_backward;
  std::function<T(CT, CT, CT)> emb_backward = model::emb_backward;
  // gradients add where a tensor feeds two lines (the chunked driver's four forks)
  std::function<T(CT, CT)> fork_backward = model::fork_backward;
  // ---- Exercises 2 and 3: the closed forms, CPU loops (with their device dispatch) and tensor ops ----
  std::function<T(CT, CT)> cross_entropy_backward = model::cross_entropy_backward;
  std::function<T(CT, CT)> cross_entropy_backward_ops = model::cross_entropy_backward_ops;
  std::function<BatchNormGrads(CT, CT, CT, CT, Variance)> batchnorm_layer_backward = model::batchnorm_layer_backward;
  std::function<BatchNormGrads(CT, CT, CT, CT, Variance)> batchnorm_layer_backward_ops =
      model::batchnorm_layer_backward_ops;
  // ---- The training step: the BatchNorm forward it runs (CPU loop outside autograd) and SGD ----
  std::function<BatchNormForward(CT, CT, CT, Variance)> batchnorm_forward = model::batchnorm_forward;
  // p += -lr * grad for every parameter, in place.
  std::function<void(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, double lr)>
      sgd_update = model::sgd_update;
};

// The hand-derived functions, as declared in model/backward.h.
const BackwardTable& hand_derived();

}  // namespace bpn::model
