// The Transformer's layers (makemore's GPT, as llm.c writes them): LayerNorm, GELU, causal
// self-attention, residuals, position embeddings and the masked cross-entropy, each a forward in
// tensor ops and a hand-derived backward (called through layers::BackwardTable).
// Shapes: B batch, T positions, C channels, nh heads of hs = C / nh channels, V vocabulary.
// See docs/derivations.md#the-transformer-makemores-gpt
#pragma once

#include <ATen/ATen.h>

namespace bpn::layers {

inline constexpr double kLayerNormEps = 1e-5;

// ---- LayerNorm over the last dim, biased variance ----------------------------------------------
struct LayerNormSaved {
  at::Tensor xhat;  // [..., C]  (x - mean) * rstd
  at::Tensor rstd;  // [..., 1]  (var + eps)^-1/2, var biased
};
// out = layer_norm(x) * w + b (F.layer_norm)
at::Tensor layernorm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, LayerNormSaved* saved);
struct LayerNormGrads {
  at::Tensor dx, dw, db;
};
// Closed form (BatchNorm's algebra over the other axis, with the biased variance):
//   g = dout * w;  dx = rstd / C * (C g - sum_C g - xhat sum_C(g xhat));  dw = sum_rows dout xhat;  db = sum_rows dout
LayerNormGrads layernorm_backward(const at::Tensor& dout, const at::Tensor& xhat, const at::Tensor& rstd,
                                  const at::Tensor& w);

// ---- GELU, the tanh approximation (GPT-2) -------------------------------------------------------
// out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));  `tanh_u`, if given, receives the tanh (saved
// for the backward, which then needs no transcendental function)
at::Tensor gelu_forward(const at::Tensor& x, at::Tensor* tanh_u = nullptr);
// dout * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)),  t = tanh(sqrt(2/pi)(x + 0.044715 x^3))
// (one pass over the elements on the CPU; tensor ops elsewhere)
at::Tensor gelu_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& t);

// ---- Causal self-attention, per head --------------------------------------------------------------
// att = masked_fill(q k^T * scale, future, -inf);  probs = softmax(att, -1);  y = probs v
// q, k, v, probs: [B, nh, T, hs] / [B, nh, T, T]
struct AttentionForward {
  at::Tensor att;    // [B, nh, T, T]; undefined when the loop below ran (nothing records it then)
  at::Tensor probs;  // [B, nh, T, T]
  at::Tensor y;      // [B, T, C], the heads merged
};
// The forward above. Outside autograd on the CPU, unless `keep_scores`, one loop per head that never
// computes the masked scores (the manual training step); tensor ops otherwise.
AttentionForward causal_attention_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                          bool keep_scores);
// probs = softmax(att)  ->  datt = probs * (dprobs - sum_j probs dprobs)   (the Jacobian diag(p) - p p^T applied)
at::Tensor softmax_backward(const at::Tensor& dprobs, const at::Tensor& probs);
struct ScoresGrads {
  at::Tensor dq, dk;
};
// att = mask(q k^T * scale): the mask's backward zeroes the masked (future) positions, then
// dq = datt k * scale, dk = datt^T q * scale
ScoresGrads attention_scores_backward(const at::Tensor& datt, const at::Tensor& q, const at::Tensor& k, double scale);
struct ValuesGrads {
  at::Tensor dprobs, dv;
};
// y = probs v  ->  dprobs = dy v^T, dv = probs^T dy
ValuesGrads attention_values_backward(const at::Tensor& dy, const at::Tensor& probs, const at::Tensor& v);

// ---- Residuals, position embeddings, masked cross-entropy -----------------------------------------
struct ResidualGrads {
  at::Tensor dx, dbranch;
};
// out = x + branch(x'): both paths receive dout; where x also feeds the branch, the gradients add
ResidualGrads residual_backward(const at::Tensor& dout);
// x = wte[idx] + wpe[:T]  ->  dwpe = dx summed over the batch  [T, C]
at::Tensor position_embedding_backward(const at::Tensor& dx);
// loss = mean over positions with target != -1 of -log softmax(logits)[target]
at::Tensor masked_cross_entropy_forward(const at::Tensor& logits, const at::Tensor& targets);
// dlogits = (softmax(logits) - onehot(target)) / count at counted positions, 0 at ignored ones: the
// layers' cross_entropy_backward (layers/cross_entropy.h) over the B*T positions   [B, T, V]
at::Tensor masked_cross_entropy_backward(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace bpn::layers
