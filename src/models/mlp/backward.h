// The hand-derived backward pass of the makemore MLP.
//
// Convention (after PyTorch's derivatives.yaml): `<x>_backward(d<x>, inputs..., saved results)`
// differentiates the forward line that computes <x> and returns the gradients of that line's
// inputs. `d<name>` is always dloss/d<name> and has exactly the shape of <name>.
// Every function quotes its forward line and its local derivative; the full derivation, with
// shapes and the reasons for any inexactness, is in docs/derivations.md under the function's name.
//
// None of these functions uses autograd or ATen's *_backward kernels: plain tensor ops only.
// Call them with gradient recording off (the drivers below set at::NoGradGuard).
//
// Shapes: n = batch, T = block_size, E = n_embd, H = n_hidden, V = vocab_size.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "models/mlp/forward.h"
#include "models/mlp/params.h"

namespace bpn::model {

// ---- Exercise 1: one function per line of the chunked forward, last line first ----------------

// loss = -logprobs[range(n), Yb].mean()                       -> dlogprobs [n, V]
at::Tensor loss_backward(double dloss, const at::Tensor& logprobs, const at::Tensor& Yb);
// logprobs = probs.log()                                      -> dprobs [n, V]
at::Tensor logprobs_backward(const at::Tensor& dlogprobs, const at::Tensor& probs);

struct ProbsGrads {
  at::Tensor dcounts;          // [n, V] (first of two contributions to dcounts)
  at::Tensor dcounts_sum_inv;  // [n, 1]
};
// probs = counts * counts_sum_inv
ProbsGrads probs_backward(const at::Tensor& dprobs, const at::Tensor& counts, const at::Tensor& counts_sum_inv);
// counts_sum_inv = counts_sum**-1                             -> dcounts_sum [n, 1]
at::Tensor counts_sum_inv_backward(const at::Tensor& dcounts_sum_inv, const at::Tensor& counts_sum);
// counts_sum = counts.sum(1, keepdims=True)                   -> dcounts [n, V] (second contribution)
at::Tensor counts_sum_backward(const at::Tensor& dcounts_sum, const at::Tensor& counts);
// counts = norm_logits.exp()                                  -> dnorm_logits [n, V]
at::Tensor counts_backward(const at::Tensor& dcounts, const at::Tensor& counts);

struct NormLogitsGrads {
  at::Tensor dlogits;       // [n, V] (first contribution)
  at::Tensor dlogit_maxes;  // [n, 1]
};
// norm_logits = logits - logit_maxes
NormLogitsGrads norm_logits_backward(const at::Tensor& dnorm_logits);
// logit_maxes = logits.max(1, keepdim=True).values            -> dlogits [n, V] (second contribution)
at::Tensor logit_maxes_backward(const at::Tensor& dlogit_maxes, const at::Tensor& logits,
                                const at::Tensor& logit_argmax);

struct LinearGrads {
  at::Tensor dx;  // [n, in]
  at::Tensor dW;  // [in, out]
  at::Tensor db;  // [out]
};
// logits = h @ W2 + b2                                        -> dh, dW2, db2
LinearGrads logits_backward(const at::Tensor& dlogits, const at::Tensor& h, const at::Tensor& W2);
// h = tanh(hpreact)                                           -> dhpreact [n, H]
at::Tensor h_backward(const at::Tensor& dh, const at::Tensor& h);

struct HpreactGrads {
  at::Tensor dbngain;  // [1, H]
  at::Tensor dbnraw;   // [n, H]
  at::Tensor dbnbias;  // [1, H]
};
// hpreact = bngain * bnraw + bnbias
HpreactGrads hpreact_backward(const at::Tensor& dhpreact, const at::Tensor& bngain, const at::Tensor& bnraw);

struct BnrawGrads {
  at::Tensor dbndiff;     // [n, H] (first contribution)
  at::Tensor dbnvar_inv;  // [1, H]
};
// bnraw = bndiff * bnvar_inv
BnrawGrads bnraw_backward(const at::Tensor& dbnraw, const at::Tensor& bndiff, const at::Tensor& bnvar_inv);
// bnvar_inv = (bnvar + 1e-5)**-0.5                            -> dbnvar [1, H]
at::Tensor bnvar_inv_backward(const at::Tensor& dbnvar_inv, const at::Tensor& bnvar);
// bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True)              -> dbndiff2 [n, H]
at::Tensor bnvar_backward(const at::Tensor& dbnvar, const at::Tensor& bndiff2);
// bndiff2 = bndiff**2                                         -> dbndiff [n, H] (second contribution)
at::Tensor bndiff2_backward(const at::Tensor& dbndiff2, const at::Tensor& bndiff);

struct BndiffGrads {
  at::Tensor dhprebn;   // [n, H] (first contribution)
  at::Tensor dbnmeani;  // [1, H]
};
// bndiff = hprebn - bnmeani
BndiffGrads bndiff_backward(const at::Tensor& dbndiff);
// bnmeani = 1/n * hprebn.sum(0, keepdim=True)                 -> dhprebn [n, H] (second contribution)
at::Tensor bnmeani_backward(const at::Tensor& dbnmeani, const at::Tensor& hprebn);
// hprebn = embcat @ W1 + b1                                   -> dembcat, dW1, db1
LinearGrads hprebn_backward(const at::Tensor& dhprebn, const at::Tensor& embcat, const at::Tensor& W1);
// embcat = emb.view(n, -1)                                    -> demb [n, T, E]
at::Tensor embcat_backward(const at::Tensor& dembcat, const at::Tensor& emb);
// emb = C[Xb]                                                 -> dC [V, E], repeated indices accumulate
at::Tensor emb_backward(const at::Tensor& demb, const at::Tensor& Xb, const at::Tensor& C);

// ---- Exercises 2 and 3: the closed forms -------------------------------------------------------

// loss = F.cross_entropy(logits, Yb)                          -> dlogits = (softmax(logits) - onehot(Yb)) / n
// On the CPU one pass per row; on other devices (and as `_ops`) the same formula in tensor ops.
at::Tensor cross_entropy_backward(const at::Tensor& logits, const at::Tensor& Yb);
at::Tensor cross_entropy_backward_ops(const at::Tensor& logits, const at::Tensor& Yb);
// hpreact = bngain * (hprebn - mean) / sqrt(var + 1e-5) + bnbias    -> dhprebn [n, H]
// with var divided by n-1 (kUnbiased) or by n (kBiased).
at::Tensor batchnorm_backward(const at::Tensor& dhpreact, const at::Tensor& bnraw, const at::Tensor& bnvar_inv,
                              const at::Tensor& bngain, Variance variance = Variance::kUnbiased);

// The whole BatchNorm layer at once (the training step): the two batch sums of the closed form are
// dbnbias and dbngain themselves, so they are computed once.
struct BatchNormGrads {
  at::Tensor dhprebn;  // [n, H]
  at::Tensor dbngain;  // [1, H]  sum_n dhpreact * bnraw
  at::Tensor dbnbias;  // [1, H]  sum_n dhpreact
};
// On the CPU two passes over [n, H]; on other devices (and as `_ops`) the same formula in tensor ops.
BatchNormGrads batchnorm_layer_backward(const at::Tensor& dhpreact, const at::Tensor& bnraw,
                                        const at::Tensor& bnvar_inv, const at::Tensor& bngain,
                                        Variance variance = Variance::kUnbiased);
BatchNormGrads batchnorm_layer_backward_ops(const at::Tensor& dhpreact, const at::Tensor& bnraw,
                                            const at::Tensor& bnvar_inv, const at::Tensor& bngain,
                                            Variance variance = Variance::kUnbiased);

// ---- Forks -------------------------------------------------------------------------------------

// Where a tensor feeds two lines, its gradient is the sum of both contributions (the chunked driver's
// four forks: counts, logits, bndiff, hprebn).
at::Tensor fork_backward(const at::Tensor& first, const at::Tensor& second);

// ---- The SGD update ----------------------------------------------------------------------------

// for p, grad in zip(parameters, grads): p.data += -lr * grad      (in place, one _foreach_ call)
void sgd_update(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, double lr);

// ---- Drivers -----------------------------------------------------------------------------------
// Each driver calls the backward functions through a table (model/backward_table.h); the default
// is hand_derived(), the functions above.

struct ParamGrads {
  at::Tensor dC, dW1, db1, dW2, db2, dbngain, dbnbias;
  std::vector<std::pair<std::string, at::Tensor>> named() const;  // "C", "W1", ... as Params
};

// All 26 gradients of Exercise 1.
struct ChunkedGrads {
  at::Tensor dlogprobs, dprobs, dcounts_sum_inv, dcounts_sum, dcounts, dnorm_logits, dlogit_maxes, dlogits, dh,
      dhpreact, dbnraw, dbnvar_inv, dbnvar, dbndiff2, dbndiff, dbnmeani, dhprebn, dembcat, demb;
  ParamGrads params;
  // The notebook's cmp order: logprobs, probs, counts_sum_inv, ..., W2, b2, hpreact, ..., C.
  // Names are the tensors' names (without the "d").
  std::vector<std::pair<std::string, at::Tensor>> named() const;
};

// Exercise 1: the chunked backward, composed from the functions above.
ChunkedGrads chunked_backward(const Params& p, const ChunkedForward& f, const at::Tensor& Xb, const at::Tensor& Yb,
                              const BackwardTable& table = hand_derived());

// Exercise 4's backward: cross_entropy_backward and the BatchNorm layer backward in place of the
// chunks. The intermediate gradients are kept for verification (finite differences).
struct FusedGrads {
  at::Tensor dlogits, dh, dhpreact, dhprebn, dembcat, demb;
  ParamGrads params;
  std::vector<std::pair<std::string, at::Tensor>> named() const;  // logits, h, hpreact, hprebn, embcat, emb, C..bnbias
};
FusedGrads fused_backward(const Params& p, const FusedForward& f, const at::Tensor& Xb, const at::Tensor& Yb,
                          Variance variance = Variance::kUnbiased, const BackwardTable& table = hand_derived());

}  // namespace bpn::model
