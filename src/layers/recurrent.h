// makemore's recurrent cells (RNNCell, GRUCell) and backpropagation through time, each piece a forward
// in tensor ops and a hand-derived backward called through layers::BackwardTable.
// Shapes: B batch, T positions, E n_embd (the input x_t), H n_embd2 (the hidden state h_t).
//   RNN:  xh = cat(x_t, h_{t-1});  h_t = tanh(xh @ W + b)
//   GRU:  xh = cat(x_t, h_{t-1});  r = sigmoid(xh @ Wr + br);  hprev_reset = r * h_{t-1}
//         xhr = cat(x_t, hprev_reset);  hbar = tanh(xhr @ Wh + bh);  z = sigmoid(xh @ Wz + bz)
//         h_t = (1 - z) * h_{t-1} + z * hbar
// See docs/derivations.md#recurrent-cells-makemores-rnn-and-gru
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace bpn::layers {

struct BackwardTable;

// xh = cat(a, b) along the last dim                 -> da = dxh[..., :A], db = dxh[..., A:]
struct ConcatGrads {
  at::Tensor da, db;
};
ConcatGrads concat_backward(const at::Tensor& dout, std::int64_t width_a);
// out = sigmoid(x)                                   -> dx = dout * out * (1 - out)
at::Tensor sigmoid_backward(const at::Tensor& dout, const at::Tensor& out);
// out = a * b (elementwise, a gate)                  -> da = dout * b, db = dout * a
struct ProductGrads {
  at::Tensor da, db;
};
ProductGrads product_backward(const at::Tensor& dout, const at::Tensor& a, const at::Tensor& b);
// out = (1 - z) * prev + z * cand (the GRU's blend)  -> dz = dout * (cand - prev), dprev = dout * (1 - z),
//                                                       dcand = dout * z
struct BlendGrads {
  at::Tensor dz, dprev, dcand;
};
BlendGrads blend_backward(const at::Tensor& dout, const at::Tensor& z, const at::Tensor& prev, const at::Tensor& cand);
// h_0 = start.expand(B, H)                           -> dstart = dh_0 summed over the batch   [1, H]
at::Tensor start_state_backward(const at::Tensor& dh0);

// ---- The cells: forward with what the backward needs, and the backward through the table's pieces ----
struct CellSaved {
  at::Tensor xh, h;                  // RNN: cat(x, hprev) and the output
  at::Tensor hprev, r, hprev_reset;  // GRU
  at::Tensor xhr, hbar, z;           // GRU
};
// One Linear of a step, pre = x @ W + b: its input and its output's gradient. A weight is used at every
// step, so its gradient is a sum over the steps; bptt_backward forms it as one product over all of
// them (weight_gradients) instead of one small product per step.
struct LinearStep {
  at::Tensor x;     // [B, in]
  at::Tensor dpre;  // [B, out]
};
// The gradients of one step: its input, the previous hidden state (in parts), and its Linears in the
// cell's parameter order (RNN: the one of W, b; GRU: those of Wr, br / Wh, bh / Wz, bz).
struct CellGrads {
  at::Tensor dx;
  // h_{t-1}'s gradient from this step, one part per use of h_{t-1} in the cell, in the order
  // autograd's engine adds them (the last use first); bptt_backward adds them to the head's in that
  // order, so that the sums round as autograd's
  std::vector<at::Tensor> dhprev;
  std::vector<LinearStep> linears;
  std::vector<std::pair<const char*, at::Tensor>> inner;  // the step's own intermediates (GRU: r, z, hbar, ...)
};
// params: RNN {W [E+H, H], b [H]}; GRU {Wr, br, Wh, bh, Wz, bz}
at::Tensor rnn_cell_forward(const at::Tensor& x, const at::Tensor& hprev, const std::vector<at::Tensor>& params,
                            CellSaved* saved);
at::Tensor gru_cell_forward(const at::Tensor& x, const at::Tensor& hprev, const std::vector<at::Tensor>& params,
                            CellSaved* saved);
// h = tanh(xh @ W + b): tanh_backward (through t), dxh = dpre W^T, concat_backward (through t)
CellGrads rnn_cell_backward(const BackwardTable& t, const at::Tensor& dh, const CellSaved& s,
                            const std::vector<at::Tensor>& params);
// The GRU's graph backwards: the blend, then hbar's branch (tanh, the linear of xhr, the split of
// xhr, the reset product), then z's and r's gates (sigmoid, the linear of xh); h_{t-1} feeds four
// places (xh twice through the gates' linears, the reset product, the blend): their gradients add.
CellGrads gru_cell_backward(const BackwardTable& t, const at::Tensor& dh, const CellSaved& s,
                            const std::vector<at::Tensor>& params);

// ---- Backpropagation through time ----------------------------------------------------------------
// dhead [B, T, H]: each position's hidden-state gradient from the head. Walks t = T-1 .. 0: the step's
// hidden-state gradient is the head's plus the one carried back from step t+1; cell(t, dh) is the
// step's backward; parameter gradients accumulate over the steps.
struct BpttGrads {
  at::Tensor dx;                    // [B, T, E]
  at::Tensor dh0;                   // [B, H]: the gradient of the initial hidden state
  std::vector<at::Tensor> dh;       // per step, the whole gradient of h_t
  std::vector<CellGrads> steps;     // per step, what the cell's backward returned
  std::vector<at::Tensor> dparams;  // summed over the steps (weight_gradients)
};
using CellBackward = std::function<CellGrads(std::int64_t t, const at::Tensor& dh)>;
BpttGrads bptt_backward(const at::Tensor& dhead, const CellBackward& cell);
// Linear k's gradients over the steps: dW_k = sum_t x_t^T dpre_t = X^T D with the steps' rows stacked,
// db_k = the column sums of D; in the parameters' order (dW_0, db_0, dW_1, db_1, ...).
std::vector<at::Tensor> weight_gradients(const std::vector<CellGrads>& steps);

}  // namespace bpn::layers
