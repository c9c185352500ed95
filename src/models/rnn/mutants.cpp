// The recurrent models' mutants: each a bug written the way it is written by mistake when deriving
// backpropagation through time by hand, injected through layers::BackwardTable.
#include "models/rnn/mutants.h"

#include <ATen/ATen.h>

#include <functional>
#include <string>

#include "layers/backward_table.h"
#include "layers/recurrent.h"

namespace bpn::models {

namespace {
using T = at::Tensor;
using CT = const at::Tensor&;
using layers::BackwardTable;
using layers::CellGrads;
using layers::CellSaved;
using verify::BugClass;
using verify::Mutant;
using verify::scaled;
using Params = std::vector<at::Tensor>;

struct Part {
  std::vector<Mutant>& m;
  std::string arch, label;
  void add(std::string name, std::string fn, BugClass bug, std::function<void(BackwardTable&)> inject) {
    m.push_back(Mutant{std::move(name), std::move(fn), bug, true, "", "", arch, label, false, std::move(inject)});
  }
};
}  // namespace

std::vector<verify::Mutant> rnn_mutants() {
  std::vector<Mutant> m;
  Part p{m, "rnn", "[RNN] "};
  // ---- backpropagation through time -----------------------------------------------------------
  p.add("bptt_backward: the hidden-state gradient not carried back", "bptt_backward", BugClass::kMissingTerm,
        [](auto& t) {
          t.bptt_backward = [](CT dhead, const layers::CellBackward& cell) {
            return layers::bptt_backward(dhead, [&](std::int64_t s, CT dh) {
              CellGrads g = cell(s, dh);
              g.dhprev.clear();  // nothing flows to step s-1: each step sees its head only
              return g;
            });
          };
        });
  p.add("bptt_backward: the parameters' gradient of the last step only (overwritten, not summed)", "bptt_backward",
        BugClass::kNoAccumulation, [](auto& t) {
          t.bptt_backward = [](CT dhead, const layers::CellBackward& cell) {
            layers::BpttGrads out = layers::bptt_backward(dhead, cell);
            out.dparams =
                layers::weight_gradients({out.steps.front()});  // the walk ends at step 0: it overwrote the rest
            return out;
          };
        });
  p.add("bptt_backward: the carried gradient added twice", "bptt_backward", BugClass::kMissingFactor, [](auto& t) {
    t.bptt_backward = [](CT dhead, const layers::CellBackward& cell) {
      return layers::bptt_backward(dhead, [&](std::int64_t s, CT dh) {
        CellGrads g = cell(s, dh);
        for (at::Tensor& part : g.dhprev) part = part * 2;
        return g;
      });
    };
  });
  p.add("bptt_backward: 1e-6 too large", "bptt_backward", BugClass::kScale1e6, [](auto& t) {
    t.bptt_backward = [](CT dhead, const layers::CellBackward& cell) {
      layers::BpttGrads out = layers::bptt_backward(dhead, cell);
      for (at::Tensor& d : out.dparams) d = scaled(d);
      return out;
    };
  });
  // ---- the start state ------------------------------------------------------------------------
  p.add("start_state_backward: not summed over the batch (the first row only)", "start_state_backward",
        BugClass::kReductionDim, [](auto& t) { t.start_state_backward = [](CT dh0) { return dh0.narrow(0, 0, 1); }; });
  p.add("start_state_backward: the mean over the batch", "start_state_backward", BugClass::kMissingFactor,
        [](auto& t) { t.start_state_backward = [](CT dh0) { return dh0.mean({0}, /*keepdim=*/true); }; });
  p.add("start_state_backward: summed over the hidden units", "start_state_backward", BugClass::kReductionDim,
        [](auto& t) { t.start_state_backward = [](CT dh0) { return dh0.sum({1}, true).transpose(0, 1); }; });
  p.add("start_state_backward: 1e-6 too large", "start_state_backward", BugClass::kScale1e6,
        [](auto& t) { t.start_state_backward = [](CT dh0) { return scaled(layers::start_state_backward(dh0)); }; });
  // ---- the concatenation cat(x_t, h_{t-1}) ----------------------------------------------------
  p.add("concat_backward: the split at the hidden width (dx and dh swapped)", "concat_backward", BugClass::kTransposed,
        [](auto& t) {
          t.concat_backward = [](CT dout, std::int64_t a) {
            const std::int64_t last = dout.dim() - 1, b = dout.size(last) - a;
            return layers::ConcatGrads{dout.narrow(last, b, a), dout.narrow(last, 0, b)};
          };
        });
  p.add("concat_backward: the split one column late", "concat_backward", BugClass::kOneElement, [](auto& t) {
    t.concat_backward = [](CT dout, std::int64_t a) {
      const std::int64_t last = dout.dim() - 1, n = dout.size(last);
      return layers::ConcatGrads{
          dout.narrow(last, 1, a),
          at::cat({dout.narrow(last, a + 1, n - a - 1), at::zeros_like(dout.narrow(last, 0, 1))}, last)};
    };
  });
  p.add("concat_backward: 1e-6 too large", "concat_backward", BugClass::kScale1e6, [](auto& t) {
    t.concat_backward = [](CT dout, std::int64_t a) { return layers::concat_backward(scaled(dout), a); };
  });
  // ---- the RNN cell ---------------------------------------------------------------------------
  p.add("rnn_cell_backward: tanh's derivative from the input (1 - pre^2 with pre = dh)", "rnn_cell_backward",
        BugClass::kWrongDerivative, [](auto& t) {
          t.rnn_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
            CellSaved wrong = s;
            wrong.h = dh;  // the derivative taken at the gradient, not at the saved output
            return layers::rnn_cell_backward(tt, dh, wrong, p);
          };
        });
  p.add("rnn_cell_backward: the weights' gradient from dh, not through tanh (dpre)", "rnn_cell_backward",
        BugClass::kMissingFactor, [](auto& t) {
          t.rnn_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
            CellGrads g = layers::rnn_cell_backward(tt, dh, s, p);
            g.linears[0].dpre = dh;
            return g;
          };
        });
  p.add("rnn_cell_backward: the inputs' gradient from dh W^T, tanh's derivative skipped", "rnn_cell_backward",
        BugClass::kMissingFactor, [](auto& t) {
          t.rnn_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
            CellGrads g = layers::rnn_cell_backward(tt, dh, s, p);
            const layers::ConcatGrads cat = tt.concat_backward(dh.mm(p[0].t()), s.xh.size(-1) - s.h.size(-1));
            g.dx = cat.da;
            g.dhprev = {cat.db};
            return g;
          };
        });
  return m;
}

std::vector<verify::Mutant> gru_mutants() {
  std::vector<Mutant> m;
  Part p{m, "gru", "[GRU] "};
  // ---- the blend h = (1 - z) * hprev + z * hbar ------------------------------------------------
  p.add("blend_backward: 1 - z and z swapped", "blend_backward", BugClass::kWrongDerivative, [](auto& t) {
    t.blend_backward = [](CT dout, CT z, CT prev, CT cand) {
      return layers::BlendGrads{dout * (cand - prev), dout * z, dout * (1 - z)};
    };
  });
  p.add("blend_backward: the hidden state carried back without the gate (dprev = dout)", "blend_backward",
        BugClass::kMissingFactor, [](auto& t) {
          t.blend_backward = [](CT dout, CT z, CT prev, CT cand) {
            layers::BlendGrads g = layers::blend_backward(dout, z, prev, cand);
            g.dprev = dout;
            return g;
          };
        });
  p.add("blend_backward: dz = dout * (prev - cand)", "blend_backward", BugClass::kSign, [](auto& t) {
    t.blend_backward = [](CT dout, CT z, CT prev, CT cand) {
      layers::BlendGrads g = layers::blend_backward(dout, z, prev, cand);
      g.dz = dout * (prev - cand);
      return g;
    };
  });
  p.add("blend_backward: 1e-6 too large", "blend_backward", BugClass::kScale1e6, [](auto& t) {
    t.blend_backward = [](CT dout, CT z, CT prev, CT cand) {
      return layers::blend_backward(scaled(dout), z, prev, cand);
    };
  });
  // ---- the gates' sigmoid ----------------------------------------------------------------------
  p.add("sigmoid_backward: out (1 - out) without the dout", "sigmoid_backward", BugClass::kMissingFactor,
        [](auto& t) { t.sigmoid_backward = [](CT, CT out) { return out * (1 - out); }; });
  p.add("sigmoid_backward: dout * (1 - out^2), tanh's", "sigmoid_backward", BugClass::kWrongDerivative,
        [](auto& t) { t.sigmoid_backward = [](CT dout, CT out) { return dout * (1 - out * out); }; });
  p.add("sigmoid_backward: 1e-6 too large", "sigmoid_backward", BugClass::kScale1e6, [](auto& t) {
    t.sigmoid_backward = [](CT dout, CT out) { return scaled(layers::sigmoid_backward(dout, out)); };
  });
  // ---- the reset product hprev_reset = r * hprev ----------------------------------------------
  p.add("product_backward: the reset gate's gradient through hprev_reset instead of hprev (dr = dout * r * hprev)",
        "product_backward", BugClass::kWrongDerivative, [](auto& t) {
          t.product_backward = [](CT dout, CT a, CT b) { return layers::ProductGrads{dout * a * b, dout * a}; };
        });
  p.add("product_backward: the two factors' gradients swapped", "product_backward", BugClass::kTransposed, [](auto& t) {
    t.product_backward = [](CT dout, CT a, CT b) { return layers::ProductGrads{dout * a, dout * b}; };
  });
  p.add("product_backward: 1e-6 too large", "product_backward", BugClass::kScale1e6, [](auto& t) {
    t.product_backward = [](CT dout, CT a, CT b) { return layers::product_backward(scaled(dout), a, b); };
  });
  // ---- the GRU cell ---------------------------------------------------------------------------
  p.add("gru_cell_backward: Wh's gradient from cat(x, hprev) instead of cat(x, r * hprev)", "gru_cell_backward",
        BugClass::kWrongDerivative, [](auto& t) {
          t.gru_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
            CellSaved wrong = s;
            wrong.xhr = s.xh;
            return layers::gru_cell_backward(tt, dh, wrong, p);
          };
        });
  p.add("gru_cell_backward: hprev's gradient through the gates' linears left out", "gru_cell_backward",
        BugClass::kMissingTerm, [](auto& t) {
          t.gru_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
            CellGrads g = layers::gru_cell_backward(tt, dh, s, p);
            const std::int64_t E = s.xh.size(-1) - s.h.size(-1);
            // recompute: only the reset product's and the blend's paths
            const layers::BlendGrads blend = tt.blend_backward(dh, s.z, s.hprev, s.hbar);
            const at::Tensor dhbar_pre = tt.tanh_backward(blend.dcand, s.hbar);
            const layers::ConcatGrads xhr = tt.concat_backward(dhbar_pre.mm(p[2].t()), E);
            g.dhprev = {blend.dprev, tt.product_backward(xhr.db, s.r, s.hprev).db};
            return g;
          };
        });
  p.add("gru_cell_backward: 1e-6 too large", "gru_cell_backward", BugClass::kScale1e6, [](auto& t) {
    t.gru_cell_backward = [](const BackwardTable& tt, CT dh, const CellSaved& s, const Params& p) {
      CellGrads g = layers::gru_cell_backward(tt, dh, s, p);
      for (layers::LinearStep& l : g.linears) l.dpre = scaled(l.dpre);
      return g;
    };
  });
  return m;
}

}  // namespace bpn::models
