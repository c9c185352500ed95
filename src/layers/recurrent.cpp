#include "layers/recurrent.h"

#include "layers/backward_table.h"

namespace bpn::layers {

// Forward: xh = cat(a, b) along the last dim        ([..., A] and [..., B'] -> [..., A + B'])
// Local:   each input receives its own slice of dxh
// See docs/derivations.md#concat_backward
ConcatGrads concat_backward(const at::Tensor& dout, std::int64_t width_a) {
  const std::int64_t last = dout.dim() - 1;
  return {dout.narrow(last, 0, width_a), dout.narrow(last, width_a, dout.size(last) - width_a)};
}

// Forward: out = sigmoid(x) = 1 / (1 + exp(-x))
// Local:   dout/dx = out * (1 - out), from the saved output
// See docs/derivations.md#sigmoid_backward
at::Tensor sigmoid_backward(const at::Tensor& dout, const at::Tensor& out) { return dout * (1 - out) * out; }

// Forward: out = a * b (elementwise)
// Local:   dout/da = b; dout/db = a
// See docs/derivations.md#product_backward
ProductGrads product_backward(const at::Tensor& dout, const at::Tensor& a, const at::Tensor& b) {
  return {dout * b, dout * a};
}

// Forward: out = (1 - z) * prev + z * cand
// Local:   dout/dz = cand - prev; dout/dprev = 1 - z; dout/dcand = z
// dz is formed as dout * cand - dout * prev: z's two uses, each product rounded, then added, as
// autograd's engine adds them (bit-exact with it); dout * (cand - prev) rounds otherwise.
// See docs/derivations.md#blend_backward
BlendGrads blend_backward(const at::Tensor& dout, const at::Tensor& z, const at::Tensor& prev, const at::Tensor& cand) {
  return {dout * cand - dout * prev, dout * (1 - z), dout * z};
}

// Forward: h_0 = start.expand(B, H)                 ([1, H] -> [B, H], one row read B times)
// Local:   each of the B rows adds its gradient to the one row: dstart = sum over the batch
// See docs/derivations.md#start_state_backward
at::Tensor start_state_backward(const at::Tensor& dh0) { return dh0.sum({0}, /*keepdim=*/true); }

at::Tensor rnn_cell_forward(const at::Tensor& x, const at::Tensor& hprev, const std::vector<at::Tensor>& p,
                            CellSaved* saved) {
  const at::Tensor xh = at::cat({x, hprev}, -1);
  const at::Tensor h = at::tanh(xh.matmul(p[0]) + p[1]);
  if (saved) *saved = {xh, h, {}, {}, {}, {}, {}, {}};
  return h;
}

at::Tensor gru_cell_forward(const at::Tensor& x, const at::Tensor& hprev, const std::vector<at::Tensor>& p,
                            CellSaved* saved) {
  const at::Tensor xh = at::cat({x, hprev}, -1);
  const at::Tensor r = at::sigmoid(xh.matmul(p[0]) + p[1]);
  const at::Tensor hprev_reset = r * hprev;
  const at::Tensor xhr = at::cat({x, hprev_reset}, -1);
  const at::Tensor hbar = at::tanh(xhr.matmul(p[2]) + p[3]);
  const at::Tensor z = at::sigmoid(xh.matmul(p[4]) + p[5]);
  const at::Tensor h = (1 - z) * hprev + z * hbar;
  if (saved) *saved = {xh, h, hprev, r, hprev_reset, xhr, hbar, z};
  return h;
}

// See docs/derivations.md#rnn_cell_backward
CellGrads rnn_cell_backward(const BackwardTable& t, const at::Tensor& dh, const CellSaved& s,
                            const std::vector<at::Tensor>& p) {
  const at::Tensor dpre = t.tanh_backward(dh, s.h);  // h = tanh(pre)
  const at::Tensor dxh = dpre.mm(p[0].t());          // pre = xh @ W + b (W's gradient: bptt_backward)
  const ConcatGrads cat = t.concat_backward(dxh, s.xh.size(-1) - s.h.size(-1));  // xh = cat(x, hprev)
  return {cat.da, {cat.db}, {{s.xh, dpre}}, {}};
}

// See docs/derivations.md#gru_cell_backward
CellGrads gru_cell_backward(const BackwardTable& t, const at::Tensor& dh, const CellSaved& s,
                            const std::vector<at::Tensor>& p) {
  const std::int64_t E = s.xh.size(-1) - s.h.size(-1);
  // h = (1 - z) * hprev + z * hbar
  const BlendGrads blend = t.blend_backward(dh, s.z, s.hprev, s.hbar);
  // hbar = tanh(xhr @ Wh + bh), xhr = cat(x, hprev_reset), hprev_reset = r * hprev
  const at::Tensor dhbar_pre = t.tanh_backward(blend.dcand, s.hbar);
  const ConcatGrads xhr = t.concat_backward(dhbar_pre.mm(p[2].t()), E);  // Wh's gradient: bptt_backward
  const ProductGrads reset = t.product_backward(xhr.db, s.r, s.hprev);   // da: dr, db: dhprev
  // z = sigmoid(xh @ Wz + bz), r = sigmoid(xh @ Wr + br)
  const at::Tensor dz_pre = t.sigmoid_backward(blend.dz, s.z);
  const at::Tensor dr_pre = t.sigmoid_backward(reset.da, s.r);
  // xh = cat(x, hprev), read by both gates' linears: dxh = dz_pre Wz^T + dr_pre Wr^T
  const ConcatGrads xh = t.concat_backward(dz_pre.mm(p[4].t()) + dr_pre.mm(p[0].t()), E);
  // x feeds xh and xhr; hprev feeds the blend, the reset product and xh (autograd adds them in that order)
  CellGrads g;
  g.dx = xhr.da + xh.da;
  g.dhprev = {blend.dprev, reset.db, xh.db};
  g.linears = {{s.xh, dr_pre}, {s.xhr, dhbar_pre}, {s.xh, dz_pre}};
  g.inner = {{"r", reset.da}, {"hprev_reset", xhr.db}, {"hbar", blend.dcand}, {"z", blend.dz}};
  return g;
}

// See docs/derivations.md#bptt_backward
BpttGrads bptt_backward(const at::Tensor& dhead, const CellBackward& cell) {
  const std::int64_t T = dhead.size(1);
  BpttGrads out;
  out.dh.resize(static_cast<std::size_t>(T));
  out.steps.resize(static_cast<std::size_t>(T));
  std::vector<at::Tensor> dx(static_cast<std::size_t>(T));
  std::vector<at::Tensor> carry;  // dloss/dh_t through step t+1, in parts
  for (std::int64_t t = T - 1; t >= 0; --t) {
    at::Tensor dh = dhead.select(1, t);                   // h_t feeds the head and step t+1:
    for (const at::Tensor& part : carry) dh = dh + part;  // the head's first, as autograd's engine adds them
    CellGrads g = cell(t, dh);
    carry = g.dhprev;
    dx[static_cast<std::size_t>(t)] = g.dx;
    out.dh[static_cast<std::size_t>(t)] = dh;
    out.steps[static_cast<std::size_t>(t)] = std::move(g);
  }
  out.dx = at::stack(dx, 1);
  // h_{-1}'s gradient: the first step's parts, summed
  for (const at::Tensor& part : carry) out.dh0 = out.dh0.defined() ? out.dh0 + part : part;
  if (!out.dh0.defined()) out.dh0 = at::zeros_like(dhead.select(1, 0));
  out.dparams = weight_gradients(out.steps);
  return out;
}

std::vector<at::Tensor> weight_gradients(const std::vector<CellGrads>& steps) {
  std::vector<at::Tensor> out;
  if (steps.empty()) return out;
  for (std::size_t k = 0; k < steps.front().linears.size(); ++k) {
    std::vector<at::Tensor> xs, ds;
    for (const CellGrads& g : steps) {
      xs.push_back(g.linears.at(k).x);
      ds.push_back(g.linears.at(k).dpre);
    }
    const at::Tensor X = at::cat(xs, 0), D = at::cat(ds, 0);  // [T*B, in], [T*B, out]
    out.push_back(X.t().mm(D));
    out.push_back(D.sum({0}));
  }
  return out;
}

}  // namespace bpn::layers
