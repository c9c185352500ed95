// The layer library's backward functions, called through a table as model/backward_table.h does for
// the MLP: a copy with one entry replaced verifies a user's function, or injects a mutant.
// Each function is `<layer>_backward(grad, inputs..., saved)`; the math is in docs/derivations.md
// under the layer's name.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "layers/recurrent.h"
#include "layers/transformer.h"

namespace bpn::layers {

class Layer;

struct LinearGrads {
  at::Tensor dx;  // [..., fan_in]
  at::Tensor dW;  // [fan_in, fan_out]
  at::Tensor db;  // [fan_out] (undefined without bias)
};
struct BatchNormGrads {
  at::Tensor dx;      // the input's shape
  at::Tensor dgamma;  // [C]
  at::Tensor dbeta;   // [C]
};

using T = at::Tensor;
using CT = const at::Tensor&;

struct BackwardTable {
  // out = W[ix]                                   -> dW [V, C], repeated indices accumulate
  std::function<T(CT dout, CT ix, CT W)> embedding_backward;
  // out = x.view(B, T/k, C*k) (squeezed at T/k = 1) -> dx = dout.view(x's shape)
  std::function<T(CT dout, CT x)> flatten_consecutive_backward;
  // out = x @ W + b                               -> dx = dout @ W^T, dW = x^T dout, db = sum dout
  std::function<LinearGrads(CT dout, CT x, CT W, bool bias)> linear_backward;
  // out = gamma * xhat + beta, xhat = (x - mean) * inv_std over every dim but the last (training)
  std::function<BatchNormGrads(CT dout, CT xhat, CT inv_std, CT gamma)> batchnorm1d_backward;
  // out = tanh(x)                                 -> dx = dout * (1 - out^2), rounded once
  std::function<T(CT dout, CT out)> tanh_backward;
  // loss = cross_entropy(logits, Y)               -> dlogits = (softmax(logits) - onehot(Y)) / n, in
  //                                                  log_softmax's and nll_loss's steps (layers/cross_entropy.h)
  std::function<T(CT logits, CT Y)> cross_entropy_backward;
  // Sequential: the reverse chain, each layer's backward fed its output's gradient
  std::function<std::vector<std::pair<std::string, at::Tensor>>(const std::vector<Layer*>& layers,
                                                                const std::vector<std::string>& names, CT dout)>
      sequential_backward;
  // ---- The Transformer (layers/transformer.h) ----
  std::function<LayerNormGrads(CT dout, CT xhat, CT rstd, CT w)> layernorm_backward;
  std::function<T(CT dout, CT x, CT tanh_u)> gelu_backward;
  std::function<T(CT dprobs, CT probs)> softmax_backward;
  std::function<ScoresGrads(CT datt, CT q, CT k, double scale)> attention_scores_backward;
  std::function<ValuesGrads(CT dy, CT probs, CT v)> attention_values_backward;
  std::function<ResidualGrads(CT dout)> residual_backward;
  std::function<T(CT dx)> position_embedding_backward;
  std::function<T(CT logits, CT targets)> masked_cross_entropy_backward;
  // ---- The recurrent cells and backpropagation through time (layers/recurrent.h) ----
  std::function<ConcatGrads(CT dout, std::int64_t width_a)> concat_backward;
  std::function<T(CT dout, CT out)> sigmoid_backward;
  std::function<ProductGrads(CT dout, CT a, CT b)> product_backward;
  std::function<BlendGrads(CT dout, CT z, CT prev, CT cand)> blend_backward;
  std::function<T(CT dh0)> start_state_backward;
  // One step of a cell, through this table's pieces (the table is passed so that a copy with one
  // piece replaced reaches the cells)
  using CellBackwardFn =
      std::function<CellGrads(const BackwardTable& t, CT dh, const CellSaved& s, const std::vector<at::Tensor>& p)>;
  CellBackwardFn rnn_cell_backward;
  CellBackwardFn gru_cell_backward;
  std::function<BpttGrads(CT dhead, const CellBackward& cell)> bptt_backward;
};

// The hand-derived functions of this folder.
const BackwardTable& hand_derived();

}  // namespace bpn::layers
