// Forward passes of the makemore MLP.
//
//   chunked_forward: the notebook's forward, one op per line, every intermediate kept
//                    (Exercise 1 differentiates it line by line).
//   fused_forward:   cross_entropy in one call and BatchNorm in one expression
//                    (Exercises 2-4; the training step uses it).
//
// Shapes: n = batch, T = block_size, E = n_embd, H = n_hidden, V = vocab_size.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/mlp/params.h"

namespace bpn::model {

struct BackwardTable;  // model/backward_table.h
const BackwardTable& hand_derived();

struct ChunkedForward {
  at::Tensor emb;             // [n, T, E]   C[Xb]
  at::Tensor embcat;          // [n, T*E]    emb.view(n, -1)
  at::Tensor hprebn;          // [n, H]      embcat @ W1 + b1
  at::Tensor bnmeani;         // [1, H]      1/n * hprebn.sum(0, keepdim=True)
  at::Tensor bndiff;          // [n, H]      hprebn - bnmeani
  at::Tensor bndiff2;         // [n, H]      bndiff**2
  at::Tensor bnvar;           // [1, H]      1/(n-1) * bndiff2.sum(0, keepdim=True)
  at::Tensor bnvar_inv;       // [1, H]      (bnvar + 1e-5)**-0.5
  at::Tensor bnraw;           // [n, H]      bndiff * bnvar_inv
  at::Tensor hpreact;         // [n, H]      bngain * bnraw + bnbias
  at::Tensor h;               // [n, H]      tanh(hpreact)
  at::Tensor logits;          // [n, V]      h @ W2 + b2
  at::Tensor logit_maxes;     // [n, 1]      logits.max(1, keepdim=True).values
  at::Tensor logit_argmax;    // [n, 1]      logits.max(1, keepdim=True).indices (saved for backward)
  at::Tensor norm_logits;     // [n, V]      logits - logit_maxes
  at::Tensor counts;          // [n, V]      norm_logits.exp()
  at::Tensor counts_sum;      // [n, 1]      counts.sum(1, keepdims=True)
  at::Tensor counts_sum_inv;  // [n, 1]      counts_sum**-1
  at::Tensor probs;           // [n, V]      counts * counts_sum_inv
  at::Tensor logprobs;        // [n, V]      probs.log()
  at::Tensor loss;            // []          -logprobs[range(n), Yb].mean()

  // The 19 intermediates whose gradients Exercise 1 checks, in the notebook's retain_grad order.
  std::vector<std::pair<std::string, at::Tensor>> intermediates() const;
};

// Called after each forward line with the intermediate's name and value; it may replace the value,
// and the rest of the forward then runs from the replacement (finite differences perturb
// intermediates this way). An empty hook costs nothing.
using ForwardHook = std::function<void(const std::string& name, at::Tensor& value)>;

// Throws bpn::InputError if the batch has fewer than 2 rows (the variance divides by n-1).
ChunkedForward chunked_forward(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb,
                               const ForwardHook& hook = {});

enum class Variance {
  kUnbiased,  // divide by n-1 (Bessel): the notebook and the lecture train with it
  kBiased,    // divide by n: what torch.nn.functional.batch_norm normalises with in training
};
std::string variance_name(Variance v);

struct BatchNormForward {
  at::Tensor hpreact;    // [n, H]  bngain * bnraw + bnbias
  at::Tensor bnraw;      // [n, H]  (hprebn - mean) * bnvar_inv
  at::Tensor bnvar_inv;  // [1, H]  (var + 1e-5)**-0.5
  at::Tensor bnmean;     // [1, H]
  at::Tensor bnvar;      // [1, H]  divided by n-1 or n, as asked
};

// BatchNorm in one expression (Exercise 3):
//   hpreact = bngain * (hprebn - hprebn.mean(0, keepdim)) / sqrt(hprebn.var(0, keepdim) + 1e-5) + bnbias
// with the same tensors kept for the fused backward.
// On the CPU, outside autograd, three passes over [n, H]; otherwise (and as `_ops`) the same in
// tensor ops, which autograd can differentiate.
BatchNormForward batchnorm_forward(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                                   Variance variance = Variance::kUnbiased);
BatchNormForward batchnorm_forward_ops(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                                       Variance variance = Variance::kUnbiased);

// The lecture's one-line hpreact_fast, written as it is there (for the forward comparison).
at::Tensor hpreact_fast(const at::Tensor& hprebn, const at::Tensor& bngain, const at::Tensor& bnbias,
                        Variance variance = Variance::kUnbiased);

// loss = F.cross_entropy(logits, Yb) (Exercise 2).
at::Tensor cross_entropy_forward(const at::Tensor& logits, const at::Tensor& Yb);

struct FusedForward {
  at::Tensor emb;     // [n, T, E]
  at::Tensor embcat;  // [n, T*E]
  at::Tensor hprebn;  // [n, H]
  BatchNormForward bn;
  at::Tensor h;       // [n, H]
  at::Tensor logits;  // [n, V]
  at::Tensor loss;    // []
};

// The training forward: the same model, with the fused cross-entropy and BatchNorm.
// The hook sees "emb", "embcat", "hprebn", "hpreact", "h" and "logits".
// Its BatchNorm runs through table.batchnorm_forward.
FusedForward fused_forward(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb,
                           Variance variance = Variance::kUnbiased, const ForwardHook& hook = {},
                           const BackwardTable& table = hand_derived());

// Checks the batch shape against the parameters; throws bpn::InputError.
void check_batch(const Params& p, const at::Tensor& Xb, const at::Tensor& Yb);

}  // namespace bpn::model
