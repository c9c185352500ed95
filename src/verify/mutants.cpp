// Each mutant is a realistic bug written the way it would be written by mistake, injected through the
// table. Functions that are loops in the real code get their bug on top of (or instead of) the real
// loop's result: the effect on the gradient is what the verdict must see.
#include "verify/mutants.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <vector>

#include "kernel/small_gemm.h"
#include "layers/batchnorm1d.h"
#include "layers/cross_entropy.h"
#include "layers/embedding.h"
#include "layers/flatten_consecutive.h"
#include "layers/layer.h"
#include "layers/linear.h"
#include "layers/tanh.h"
#include "layers/transformer.h"
#include "models/mlp/backward.h"

namespace bpn::verify {

namespace {
using model::Variance;
using T = at::Tensor;
using CT = const at::Tensor&;

at::Tensor rows_of(CT Yb) { return at::arange(Yb.size(0), Yb.options()); }

// The whole tensor 1e-6 too large.
at::Tensor scaled(const at::Tensor& t) { return t * (1.0 + 1e-6); }

// One element moved by one unit in the last place (the first element, away from zero).
at::Tensor one_ulp(const at::Tensor& t) {
  at::Tensor out = t.clone();
  at::Tensor flat = out.view({-1});
  flat.narrow(0, 0, 1).copy_(at::nextafter(flat.narrow(0, 0, 1), flat.narrow(0, 0, 1).sign() * INFINITY));
  return out;
}

std::vector<Mutant> build() {
  std::vector<Mutant> m;
  auto add = [&](std::string name, std::string fn, BugClass bug, bool training,
                 std::function<void(model::BackwardTable&)> inject, std::string narrowed = "") {
    Mutant mu{std::move(name), std::move(fn), bug, training, std::move(narrowed), "", std::move(inject), "mlp", {}, {}};
    m.push_back(std::move(mu));
  };
  // ---- Exercise 1 -----------------------------------------------------------------------------
  add("loss_backward: +1/n instead of -1/n", "loss_backward", BugClass::kSign, false, [](auto& t) {
    t.loss_backward = [](double dloss, CT logprobs, CT Yb) {
      T d = at::zeros_like(logprobs);
      return d.index_put_({rows_of(Yb), Yb}, dloss / static_cast<double>(logprobs.size(0)));
    };
  });
  add("loss_backward: the mean's 1/n left out", "loss_backward", BugClass::kMissingFactor, false, [](auto& t) {
    t.loss_backward = [](double dloss, CT logprobs, CT Yb) {
      T d = at::zeros_like(logprobs);
      return d.index_put_({rows_of(Yb), Yb}, -dloss);
    };
  });
  add("logprobs_backward: times probs instead of divided", "logprobs_backward", BugClass::kWrongDerivative, false,
      [](auto& t) { t.logprobs_backward = [](CT d, CT probs) { return d * probs; }; });
  add("logprobs_backward: times probs.reciprocal()", "logprobs_backward", BugClass::kOneUlp, false,
      [](auto& t) { t.logprobs_backward = [](CT d, CT probs) { return d * probs.reciprocal(); }; });
  m.back().equivalent =
      "equivalent in the notebook's configuration: dlogprobs is 0 or -1/n, and with n = 32 (a power of two) "
      "d * (1/p) rounds exactly as d / p; at other batch sizes it differs in the last bit";
  add("probs_backward: dcounts without counts_sum_inv", "probs_backward", BugClass::kMissingFactor, false, [](auto& t) {
    t.probs_backward = [](CT d, CT counts, CT) { return model::ProbsGrads{d, (d * counts).sum({1}, true)}; };
  });
  add("probs_backward: dcounts_sum_inv summed over the batch", "probs_backward", BugClass::kReductionDim, false,
      [](auto& t) {
        t.probs_backward = [](CT d, CT counts, CT inv) {
          return model::ProbsGrads{d * inv, (d * counts).sum({0}, true)};
        };
      });
  add("counts_sum_inv_backward: +x^-2", "counts_sum_inv_backward", BugClass::kSign, false,
      [](auto& t) { t.counts_sum_inv_backward = [](CT d, CT cs) { return d * cs.pow(-2.0); }; });
  add("counts_sum_inv_backward: -d / (x*x)", "counts_sum_inv_backward", BugClass::kOneUlp, false,
      [](auto& t) { t.counts_sum_inv_backward = [](CT d, CT cs) { return -d / (cs * cs); }; });
  add("counts_sum_backward: times counts (a product's rule for a sum)", "counts_sum_backward",
      BugClass::kWrongDerivative, false,
      [](auto& t) { t.counts_sum_backward = [](CT d, CT counts) { return d * counts; }; });
  add("counts_sum_backward: 1e-6 too large", "counts_sum_backward", BugClass::kScale1e6, false, [](auto& t) {
    t.counts_sum_backward = [](CT d, CT counts) { return scaled(model::counts_sum_backward(d, counts)); };
  });
  add("counts_backward: times norm_logits instead of counts", "counts_backward", BugClass::kWrongDerivative, false,
      [](auto& t) { t.counts_backward = [](CT d, CT counts) { return d * counts.log(); }; });
  add("counts_backward: 1e-6 too large", "counts_backward", BugClass::kScale1e6, false,
      [](auto& t) { t.counts_backward = [](CT d, CT counts) { return scaled(d * counts); }; });
  add("norm_logits_backward: dlogits = -dnorm_logits", "norm_logits_backward", BugClass::kSign, false, [](auto& t) {
    t.norm_logits_backward = [](CT d) { return model::NormLogitsGrads{-d, (-d).sum({1}, true)}; };
  });
  add("norm_logits_backward: dlogit_maxes summed over the batch", "norm_logits_backward", BugClass::kReductionDim,
      false, [](auto& t) {
        t.norm_logits_backward = [](CT d) { return model::NormLogitsGrads{d, (-d).sum({0}, true)}; };
      });
  add(
      "logit_maxes_backward: routed to the min", "logit_maxes_backward", BugClass::kMaxRouting, false,
      [](auto& t) {
        t.logit_maxes_backward = [](CT d, CT logits, CT) {
          return at::zeros_like(logits).scatter_(1, std::get<1>(logits.min(1, true)), d);
        };
      },
      "dlogit_maxes is analytically zero (softmax is shift-invariant), so a wrong route moves rounding noise "
      "only, below any accuracy bound: only the ledger's exactness can see it");
  add("logits_backward: dW2 transposed", "logits_backward", BugClass::kTransposed, true, [](auto& t) {
    t.logits_backward = [](CT d, CT h, CT W2) { return model::LinearGrads{d.mm(W2.t()), d.t().mm(h), d.sum({0})}; };
  });
  add("logits_backward: db2 summed over the vocabulary", "logits_backward", BugClass::kReductionDim, true, [](auto& t) {
    t.logits_backward = [](CT d, CT h, CT W2) { return model::LinearGrads{d.mm(W2.t()), h.t().mm(d), d.sum({1})}; };
  });
  add("h_backward: 1 - h*h rounded twice", "h_backward", BugClass::kOneUlp, true,
      [](auto& t) { t.h_backward = [](CT d, CT h) { return d * at::sub(at::ones_like(h), at::mul(h, h)); }; });
  add("h_backward: 1 - h instead of 1 - h^2", "h_backward", BugClass::kWrongDerivative, true,
      [](auto& t) { t.h_backward = [](CT d, CT h) { return d * (1.0 - h); }; });
  add("h_backward: h^2 - 1", "h_backward", BugClass::kSign, true,
      [](auto& t) { t.h_backward = [](CT d, CT h) { return d * (h * h - 1.0); }; });
  add("hpreact_backward: dbngain without keepdim", "hpreact_backward", BugClass::kKeepdim, false, [](auto& t) {
    t.hpreact_backward = [](CT d, CT g, CT raw) {
      return model::HpreactGrads{(d * raw).sum({0}), d * g, d.sum({0}, true)};
    };
  });
  add("hpreact_backward: dbnraw without bngain", "hpreact_backward", BugClass::kMissingFactor, false, [](auto& t) {
    t.hpreact_backward = [](CT d, CT, CT raw) {
      return model::HpreactGrads{(d * raw).sum({0}, true), d, d.sum({0}, true)};
    };
  });
  add("hpreact_backward: dbnbias summed over the units", "hpreact_backward", BugClass::kReductionDim, false,
      [](auto& t) {
        t.hpreact_backward = [](CT d, CT g, CT raw) {
          return model::HpreactGrads{(d * raw).sum({0}, true), d * g, d.sum({1}, true)};
        };
      });
  add("bnraw_backward: dbnvar_inv without keepdim", "bnraw_backward", BugClass::kKeepdim, false, [](auto& t) {
    t.bnraw_backward = [](CT d, CT diff, CT inv) { return model::BnrawGrads{d * inv, (d * diff).sum({0})}; };
  });
  add("bnraw_backward: dbndiff without bnvar_inv", "bnraw_backward", BugClass::kMissingFactor, false, [](auto& t) {
    t.bnraw_backward = [](CT d, CT diff, CT) { return model::BnrawGrads{d, (d * diff).sum({0}, true)}; };
  });
  add("bnvar_inv_backward: eps dropped", "bnvar_inv_backward", BugClass::kEpsDropped, false,
      [](auto& t) { t.bnvar_inv_backward = [](CT d, CT var) { return d * (-0.5 * var.pow(-1.5)); }; });
  add("bnvar_inv_backward: +0.5", "bnvar_inv_backward", BugClass::kSign, false,
      [](auto& t) { t.bnvar_inv_backward = [](CT d, CT var) { return d * (0.5 * (var + model::kBnEps).pow(-1.5)); }; });
  add("bnvar_inv_backward: power -0.5 kept instead of -1.5", "bnvar_inv_backward", BugClass::kWrongDerivative, false,
      [](auto& t) {
        t.bnvar_inv_backward = [](CT d, CT var) { return d * (-0.5 * (var + model::kBnEps).pow(-0.5)); };
      });
  add("bnvar_backward: 1/n instead of 1/(n-1)", "bnvar_backward", BugClass::kBessel, false, [](auto& t) {
    t.bnvar_backward = [](CT d, CT d2) { return (d * (1.0 / static_cast<double>(d2.size(0)))).expand_as(d2); };
  });
  add("bnvar_backward: 1e-6 too large", "bnvar_backward", BugClass::kScale1e6, false,
      [](auto& t) { t.bnvar_backward = [](CT d, CT d2) { return scaled(model::bnvar_backward(d, d2)); }; });
  add("bnvar_backward: one element one ULP off", "bnvar_backward", BugClass::kOneUlp, false,
      [](auto& t) { t.bnvar_backward = [](CT d, CT d2) { return one_ulp(model::bnvar_backward(d, d2)); }; });
  add("bndiff2_backward: the 2 left out", "bndiff2_backward", BugClass::kMissingFactor, false,
      [](auto& t) { t.bndiff2_backward = [](CT d, CT diff) { return d * diff; }; });
  add("bndiff_backward: dbnmeani = +sum", "bndiff_backward", BugClass::kSign, false, [](auto& t) {
    t.bndiff_backward = [](CT d) { return model::BndiffGrads{d, d.sum({0}, true)}; };
  });
  add("bnmeani_backward: 1/(n-1) instead of 1/n", "bnmeani_backward", BugClass::kBessel, false, [](auto& t) {
    t.bnmeani_backward = [](CT d, CT x) { return (d * (1.0 / static_cast<double>(x.size(0) - 1))).expand_as(x); };
  });
  add("hprebn_backward: dW1 1e-6 too large", "hprebn_backward", BugClass::kScale1e6, true, [](auto& t) {
    t.hprebn_backward = [](CT d, CT e, CT W1) {
      auto g = model::hprebn_backward(d, e, W1);
      g.dW = scaled(g.dW);
      return g;
    };
  });
  add("hprebn_backward: db1 from the first row only", "hprebn_backward", BugClass::kOneElement, true, [](auto& t) {
    t.hprebn_backward = [](CT d, CT e, CT W1) {
      auto g = model::hprebn_backward(d, e, W1);
      g.db = d[0].clone();
      return g;
    };
  });
  add("hprebn_backward: dembcat with the last row dropped", "hprebn_backward", BugClass::kOneElement, true,
      [](auto& t) {
        t.hprebn_backward = [](CT d, CT e, CT W1) {
          auto g = model::hprebn_backward(d, e, W1);
          g.dx[g.dx.size(0) - 1].zero_();
          return g;
        };
      });
  add("embcat_backward: viewed as [n, E, T]", "embcat_backward", BugClass::kTransposed, true, [](auto& t) {
    t.embcat_backward = [](CT d, CT emb) {
      return d.reshape({emb.size(0), emb.size(2), emb.size(1)}).transpose(1, 2).contiguous();
    };
  });
  add("emb_backward: index_put_ without accumulate", "emb_backward", BugClass::kNoAccumulation, true, [](auto& t) {
    t.emb_backward = [](CT demb, CT Xb, CT C) {
      return at::zeros_like(C).index_put_({Xb.reshape({-1})}, demb.reshape({-1, C.size(1)}), /*accumulate=*/false);
    };
  });
  add("emb_backward: one element one ULP off", "emb_backward", BugClass::kOneUlp, true,
      [](auto& t) { t.emb_backward = [](CT demb, CT Xb, CT C) { return one_ulp(model::emb_backward(demb, Xb, C)); }; });
  add("emb_backward: the last batch row left out", "emb_backward", BugClass::kOneElement, true, [](auto& t) {
    t.emb_backward = [](CT demb, CT Xb, CT C) {
      const auto n = Xb.size(0);
      return model::emb_backward(demb.narrow(0, 0, n - 1), Xb.narrow(0, 0, n - 1), C);
    };
  });
  // ---- The chunked driver's forks (chunked_backward) --------------------------------------------
  add("fork_backward (chunked_backward): the second path overwrites the first", "fork_backward",
      BugClass::kNoAccumulation, false,
      [](auto& t) { t.fork_backward = [](CT, CT second) { return second.clone(); }; });
  add("fork_backward (chunked_backward): the second path never added", "fork_backward", BugClass::kMissingTerm, false,
      [](auto& t) { t.fork_backward = [](CT first, CT) { return first.clone(); }; });
  add("fork_backward (chunked_backward): the paths subtracted", "fork_backward", BugClass::kSign, false,
      [](auto& t) { t.fork_backward = [](CT first, CT second) { return first - second; }; });
  // ---- Exercise 2: cross-entropy, loop and ops ------------------------------------------------
  add("cross_entropy_backward (loop): the /n left out", "cross_entropy_backward", BugClass::kMissingFactor, true,
      [](auto& t) {
        t.cross_entropy_backward = [](CT l, CT Y) {
          return model::cross_entropy_backward(l, Y) * static_cast<double>(l.size(0));
        };
      });
  add("cross_entropy_backward (loop): the one-hot at Yb+1", "cross_entropy_backward", BugClass::kOneElement, true,
      [](auto& t) {
        t.cross_entropy_backward = [](CT l, CT Y) {
          const double n = static_cast<double>(l.size(0));
          T d = model::cross_entropy_backward(l, Y);
          d.index_put_({rows_of(Y), Y}, d.index({rows_of(Y), Y}) + 1.0 / n);  // undo the right one-hot
          const T wrong = (Y + 1).remainder(l.size(1));
          return d.index_put_({rows_of(Y), wrong}, d.index({rows_of(Y), wrong}) - 1.0 / n);
        };
      });
  add("cross_entropy_backward (loop): 1e-6 too large", "cross_entropy_backward", BugClass::kScale1e6, true,
      [](auto& t) {
        t.cross_entropy_backward = [](CT l, CT Y) { return scaled(model::cross_entropy_backward(l, Y)); };
      });
  add("cross_entropy_backward_ops: + onehot", "cross_entropy_backward_ops", BugClass::kSign, false, [](auto& t) {
    t.cross_entropy_backward_ops = [](CT l, CT Y) {
      const auto n = l.size(0);
      T d = at::softmax(l, 1);
      d.scatter_add_(1, Y.view({n, 1}), at::full({n, 1}, 1.0, l.options()));
      return d.div_(static_cast<double>(n));
    };
  });
  add("cross_entropy_backward_ops: softmax over the batch", "cross_entropy_backward_ops", BugClass::kReductionDim,
      false, [](auto& t) {
        t.cross_entropy_backward_ops = [](CT l, CT Y) {
          const auto n = l.size(0);
          T d = at::softmax(l, 0);
          d.scatter_add_(1, Y.view({n, 1}), at::full({n, 1}, -1.0, l.options()));
          return d.div_(static_cast<double>(n));
        };
      });
  add("cross_entropy_backward_ops: 1e-6 too large", "cross_entropy_backward_ops", BugClass::kScale1e6, false,
      [](auto& t) {
        t.cross_entropy_backward_ops = [](CT l, CT Y) { return scaled(model::cross_entropy_backward_ops(l, Y)); };
      });
  // ---- Exercise 3: BatchNorm, loop and ops ----------------------------------------------------
  add("batchnorm_layer_backward (loop): the biased formula for the unbiased variance", "batchnorm_layer_backward",
      BugClass::kBessel, true, [](auto& t) {
        t.batchnorm_layer_backward = [](CT dy, CT x, CT inv, CT g, Variance) {
          return model::batchnorm_layer_backward(dy, x, inv, g, Variance::kBiased);
        };
      });
  add("batchnorm_layer_backward (loop): the sum(dhpreact) term left out", "batchnorm_layer_backward",
      BugClass::kMissingTerm, true, [](auto& t) {
        t.batchnorm_layer_backward = [](CT dy, CT x, CT inv, CT g, Variance v) {
          auto r = model::batchnorm_layer_backward(dy, x, inv, g, v);
          r.dhprebn = r.dhprebn + g * inv / static_cast<double>(dy.size(0)) * r.dbnbias;
          return r;
        };
      });
  add("batchnorm_layer_backward (loop): dbngain without bnraw", "batchnorm_layer_backward", BugClass::kMissingFactor,
      true, [](auto& t) {
        t.batchnorm_layer_backward = [](CT dy, CT x, CT inv, CT g, Variance v) {
          auto r = model::batchnorm_layer_backward(dy, x, inv, g, v);
          r.dbngain = r.dbnbias.clone();
          return r;
        };
      });
  add("batchnorm_layer_backward (loop): 1e-6 too large", "batchnorm_layer_backward", BugClass::kScale1e6, true,
      [](auto& t) {
        t.batchnorm_layer_backward = [](CT dy, CT x, CT inv, CT g, Variance v) {
          auto r = model::batchnorm_layer_backward(dy, x, inv, g, v);
          r.dhprebn = scaled(r.dhprebn);
          return r;
        };
      });
  add("batchnorm_layer_backward_ops: the sum(dhpreact * bnraw) term left out", "batchnorm_layer_backward_ops",
      BugClass::kMissingTerm, false, [](auto& t) {
        t.batchnorm_layer_backward_ops = [](CT dy, CT x, CT inv, CT g, Variance) {
          const double n = static_cast<double>(dy.size(0));
          model::BatchNormGrads r;
          r.dbnbias = dy.sum({0}, true);
          r.dbngain = (dy * x).sum({0}, true);
          r.dhprebn = g * inv / n * (n * dy - r.dbnbias);
          return r;
        };
      });
  add("batchnorm_layer_backward_ops: n/(n-1) as (n-1)/n", "batchnorm_layer_backward_ops", BugClass::kBessel, false,
      [](auto& t) {
        t.batchnorm_layer_backward_ops = [](CT dy, CT x, CT inv, CT g, Variance) {
          const double n = static_cast<double>(dy.size(0));
          model::BatchNormGrads r;
          r.dbnbias = dy.sum({0}, true);
          r.dbngain = (dy * x).sum({0}, true);
          r.dhprebn = g * inv / n * (n * dy - r.dbnbias - (n - 1.0) / n * x * r.dbngain);
          return r;
        };
      });
  add("batchnorm_layer_backward_ops: 1e-6 too large", "batchnorm_layer_backward_ops", BugClass::kScale1e6, false,
      [](auto& t) {
        t.batchnorm_layer_backward_ops = [](CT dy, CT x, CT inv, CT g, Variance v) {
          auto r = model::batchnorm_layer_backward_ops(dy, x, inv, g, v);
          r.dhprebn = scaled(r.dhprebn);
          return r;
        };
      });
  // ---- The training step's forward loop and the SGD update ------------------------------------
  // The loop runs outside autograd only; with gradients on, batchnorm_forward takes the op path, as the real one does.
  auto bn_forward_mutant = [](std::function<model::BatchNormForward(CT, CT, CT, Variance)> buggy) {
    return [buggy](CT x, CT g, CT b, Variance v) {
      if (at::GradMode::is_enabled()) return model::batchnorm_forward_ops(x, g, b, v);
      return buggy(x, g, b, v);
    };
  };
  add("batchnorm_forward (loop): the variance divided by n", "batchnorm_forward", BugClass::kBessel, true,
      [=](auto& t) {
        t.batchnorm_forward = bn_forward_mutant(
            [](CT x, CT g, CT b, Variance) { return model::batchnorm_forward(x, g, b, Variance::kBiased); });
      });
  add("batchnorm_forward (loop): eps dropped", "batchnorm_forward", BugClass::kEpsDropped, true, [=](auto& t) {
    t.batchnorm_forward = bn_forward_mutant([](CT x, CT g, CT b, Variance v) {
      auto r = model::batchnorm_forward(x, g, b, v);
      r.bnvar_inv = r.bnvar.rsqrt();
      r.bnraw = (x - r.bnmean) * r.bnvar_inv;
      r.hpreact = g * r.bnraw + b;
      return r;
    });
  });
  add("batchnorm_forward (loop): the mean misses the last row", "batchnorm_forward", BugClass::kOneElement, true,
      [=](auto& t) {
        t.batchnorm_forward = bn_forward_mutant([](CT x, CT g, CT b, Variance v) {
          auto r = model::batchnorm_forward(x, g, b, v);
          const double n = static_cast<double>(x.size(0));
          r.bnmean = x.narrow(0, 0, x.size(0) - 1).sum({0}, true) / n;
          r.bnraw = (x - r.bnmean) * r.bnvar_inv;
          r.hpreact = g * r.bnraw + b;
          return r;
        });
      });
  add("sgd_update: p += lr * grad", "sgd_update", BugClass::kSign, true, [](auto& t) {
    t.sgd_update = [](const std::vector<T>& p, const std::vector<T>& g, double lr) { at::_foreach_add_(p, g, lr); };
  });
  add("sgd_update: the last parameter not updated", "sgd_update", BugClass::kOneElement, true, [](auto& t) {
    t.sgd_update = [](const std::vector<T>& p, const std::vector<T>& g, double lr) {
      for (std::size_t i = 0; i + 1 < p.size(); ++i) p[i].add_(g[i], -lr);
    };
  });
  add("sgd_update: lr applied twice", "sgd_update", BugClass::kMissingFactor, true, [](auto& t) {
    t.sgd_update = [](const std::vector<T>& p, const std::vector<T>& g, double lr) {
      at::_foreach_add_(p, g, -lr * lr);
    };
  });
  // ---- The layer library, checked on the WaveNet (check --arch wavenet) --------------------------
  auto layer = [&](std::string name, std::string fn, BugClass bug, std::function<void(layers::BackwardTable&)> inject,
                   std::string narrowed = "") {
    Mutant mu{std::move(name), std::move(fn), bug, true, std::move(narrowed), "", {}, "wavenet", std::move(inject), {}};
    m.push_back(std::move(mu));
  };
  using layers::BatchNormGrads;
  using layers::LinearGrads;
  layer("embedding_backward: index_put_ without accumulate", "embedding_backward", BugClass::kNoAccumulation,
        [](auto& t) {
          t.embedding_backward = [](CT dout, CT ix, CT W) {
            return at::zeros_like(W).index_put_({ix.reshape({-1})}, dout.reshape({-1, W.size(1)}), false);
          };
        });
  layer("embedding_backward: the last batch row left out", "embedding_backward", BugClass::kOneElement, [](auto& t) {
    t.embedding_backward = [](CT dout, CT ix, CT W) {
      const auto n = ix.size(0);
      return layers::embedding_backward(dout.narrow(0, 0, n - 1), ix.narrow(0, 0, n - 1), W);
    };
  });
  layer("embedding_backward: 1e-6 too large", "embedding_backward", BugClass::kScale1e6, [](auto& t) {
    t.embedding_backward = [](CT dout, CT ix, CT W) { return scaled(layers::embedding_backward(dout, ix, W)); };
  });
  layer("flatten_consecutive_backward: time and channels transposed", "flatten_consecutive_backward",
        BugClass::kTransposed, [](auto& t) {
          t.flatten_consecutive_backward = [](CT dout, CT x) {
            return dout.reshape({x.size(0), x.size(2), x.size(1)}).transpose(1, 2).contiguous();
          };
        });
  layer("flatten_consecutive_backward: the two positions of a pair swapped", "flatten_consecutive_backward",
        BugClass::kOneElement, [](auto& t) {
          t.flatten_consecutive_backward = [](CT dout, CT x) {
            const at::Tensor pairs = dout.reshape({x.size(0), x.size(1) / 2, 2, x.size(2)});
            return pairs.flip({2}).reshape(x.sizes());
          };
        });
  layer("flatten_consecutive_backward: 1e-6 too large", "flatten_consecutive_backward", BugClass::kScale1e6,
        [](auto& t) {
          t.flatten_consecutive_backward = [](CT dout, CT x) {
            return scaled(layers::flatten_consecutive_backward(dout, x));
          };
        });
  layer("linear_backward: dW transposed", "linear_backward", BugClass::kTransposed, [](auto& t) {
    t.linear_backward = [](CT dout, CT x, CT W, bool bias) {
      auto g = layers::linear_backward(dout, x, W, bias);
      g.dW = dout.reshape({-1, dout.size(-1)}).t().mm(x.reshape({-1, x.size(-1)}));
      return g;
    };
  });
  layer("linear_backward: db summed over the features", "linear_backward", BugClass::kReductionDim, [](auto& t) {
    t.linear_backward = [](CT dout, CT x, CT W, bool bias) {
      auto g = layers::linear_backward(dout, x, W, bias);
      if (bias) g.db = dout.reshape({-1, dout.size(-1)}).sum({1});
      return g;
    };
  });
  layer("linear_backward: dW from the first position of a 3-D input only", "linear_backward", BugClass::kOneElement,
        [](auto& t) {
          t.linear_backward = [](CT dout, CT x, CT W, bool bias) {
            auto g = layers::linear_backward(dout, x, W, bias);
            if (x.dim() == 3) g.dW = x.select(1, 0).t().mm(dout.select(1, 0));
            return g;
          };
        });
  layer("linear_backward: dW 1e-6 too large", "linear_backward", BugClass::kScale1e6, [](auto& t) {
    t.linear_backward = [](CT dout, CT x, CT W, bool bias) {
      auto g = layers::linear_backward(dout, x, W, bias);
      g.dW = scaled(g.dW);
      return g;
    };
  });
  layer("batchnorm1d_backward: 3-D statistics over dim 0 only (the lecture's bug)", "batchnorm1d_backward",
        BugClass::kReductionDim, [](auto& t) {
          t.batchnorm1d_backward = [](CT dout, CT xhat, CT inv, CT gamma) {
            if (dout.dim() != 3) return layers::batchnorm1d_backward(dout, xhat, inv, gamma);
            const double n = static_cast<double>(dout.size(0));
            const at::Tensor sum_d = dout.sum({0}, true), sum_dx = (dout * xhat).sum({0}, true);
            BatchNormGrads g;
            g.dx = gamma * inv.reshape({-1}) / n * (n * dout - sum_d - n / (n - 1.0) * xhat * sum_dx);
            g.dbeta = sum_d.sum(at::IntArrayRef{0, 1});
            g.dgamma = sum_dx.sum(at::IntArrayRef{0, 1});
            return g;
          };
        });
  layer("batchnorm1d_backward: the biased formula (n/(n-1) left out)", "batchnorm1d_backward", BugClass::kBessel,
        [](auto& t) {
          t.batchnorm1d_backward = [](CT dout, CT xhat, CT inv, CT gamma) {
            const std::int64_t C = dout.size(-1);
            const at::Tensor d2 = dout.reshape({-1, C}), x2 = xhat.reshape({-1, C});
            const double n = static_cast<double>(d2.size(0));
            BatchNormGrads g;
            g.dbeta = d2.sum({0});
            g.dgamma = (d2 * x2).sum({0});
            g.dx = (gamma * inv.reshape({C}) / n * (n * d2 - g.dbeta - x2 * g.dgamma)).reshape(dout.sizes());
            return g;
          };
        });
  layer("batchnorm1d_backward: the sum(dout) term left out", "batchnorm1d_backward", BugClass::kMissingTerm,
        [](auto& t) {
          t.batchnorm1d_backward = [](CT dout, CT xhat, CT inv, CT gamma) {
            auto g = layers::batchnorm1d_backward(dout, xhat, inv, gamma);
            const std::int64_t C = dout.size(-1);
            const double n = static_cast<double>(dout.numel() / C);
            g.dx = g.dx + (gamma * inv.reshape({C}) / n * g.dbeta);
            return g;
          };
        });
  layer("batchnorm1d_backward: 1e-6 too large", "batchnorm1d_backward", BugClass::kScale1e6, [](auto& t) {
    t.batchnorm1d_backward = [](CT dout, CT xhat, CT inv, CT gamma) {
      auto g = layers::batchnorm1d_backward(dout, xhat, inv, gamma);
      g.dx = scaled(g.dx);
      return g;
    };
  });
  layer("tanh_backward: 1 - y instead of 1 - y^2", "tanh_backward", BugClass::kWrongDerivative,
        [](auto& t) { t.tanh_backward = [](CT d, CT y) { return d * (1.0 - y); }; });
  layer("tanh_backward: y^2 - 1", "tanh_backward", BugClass::kSign,
        [](auto& t) { t.tanh_backward = [](CT d, CT y) { return d * (y * y - 1.0); }; });
  layer("tanh_backward: 1e-6 too large", "tanh_backward", BugClass::kScale1e6,
        [](auto& t) { t.tanh_backward = [](CT d, CT y) { return scaled(layers::tanh_backward(d, y)); }; });
  layer("cross_entropy_backward (layer): the /n left out", "cross_entropy_backward", BugClass::kMissingFactor,
        [](auto& t) {
          t.cross_entropy_backward = [](CT l, CT Y) {
            return layers::cross_entropy_backward(l, Y) * static_cast<double>(l.size(0));
          };
        });
  layer("cross_entropy_backward (layer): + onehot", "cross_entropy_backward", BugClass::kSign, [](auto& t) {
    t.cross_entropy_backward = [](CT l, CT Y) {
      T d = layers::cross_entropy_backward(l, Y);
      return d.index_put_({rows_of(Y), Y}, d.index({rows_of(Y), Y}) + 2.0 / static_cast<double>(l.size(0)));
    };
  });
  layer("cross_entropy_backward (layer): 1e-6 too large", "cross_entropy_backward", BugClass::kScale1e6, [](auto& t) {
    t.cross_entropy_backward = [](CT l, CT Y) { return scaled(layers::cross_entropy_backward(l, Y)); };
  });
  layer("cross_entropy_backward (layer): the closed form (softmax - onehot) / n, rounded otherwise",
        "cross_entropy_backward", BugClass::kOneUlp,
        [](auto& t) { t.cross_entropy_backward = model::cross_entropy_backward; });
  layer("sequential_backward: the last Tanh skipped", "sequential_backward", BugClass::kMissingFactor, [](auto& t) {
    t.sequential_backward = [](const std::vector<layers::Layer*>& ls, const std::vector<std::string>& names, CT dout) {
      layers::NamedTensors out;
      at::Tensor d = dout;
      bool skipped = false;
      for (std::size_t i = ls.size(); i-- > 0;) {
        out.emplace_back(names[i], d);
        if (!skipped && ls[i]->kind() == "Tanh") {
          skipped = true;
          continue;
        }
        d = ls[i]->backward(d);
      }
      return out;
    };
  });
  layer("sequential_backward: each output named with its input's gradient", "sequential_backward",
        BugClass::kOneElement, [](auto& t) {
          t.sequential_backward = [](const std::vector<layers::Layer*>& ls, const std::vector<std::string>& names,
                                     CT dout) {
            layers::NamedTensors out;
            at::Tensor d = dout;
            for (std::size_t i = ls.size(); i-- > 0;) {
              const at::Tensor d_in = ls[i]->backward(d);
              out.emplace_back(names[i], d_in.defined() ? d_in : d);  // off by one: the input's gradient
              d = d_in;
            }
            return out;
          };
        });
  layer("sequential_backward: a stray factor 0.5 after the last layer", "sequential_backward", BugClass::kMissingFactor,
        [](auto& t) {
          t.sequential_backward = [](const std::vector<layers::Layer*>& ls, const std::vector<std::string>& names,
                                     CT dout) {
            layers::NamedTensors out;
            at::Tensor d = dout;
            for (std::size_t i = ls.size(); i-- > 0;) {
              out.emplace_back(names[i], d);
              const at::Tensor next = ls[i]->backward(d);
              if (i + 1 == ls.size() && next.defined())
                d = next * 0.5;  // a stray rescale after the first layer
              else if (next.defined())
                d = next;
            }
            return out;
          };
        });
  // ---- The Transformer's functions, checked on a small GPT (check --arch gpt) -------------------
  auto gpt = [&](std::string name, std::string fn, BugClass bug, std::function<void(layers::BackwardTable&)> inject,
                 std::string equivalent = "") {
    Mutant mu{std::move(name), std::move(fn), bug, true, "", std::move(equivalent), {}, "gpt", std::move(inject), {}};
    m.push_back(std::move(mu));
  };
  using layers::LayerNormGrads;
  gpt("layernorm_backward: the unbiased variance's C/(C-1)", "layernorm_backward", BugClass::kBessel, [](auto& t) {
    t.layernorm_backward = [](CT dout, CT xhat, CT rstd, CT w) {
      auto r = layers::layernorm_backward(dout, xhat, rstd, w);
      const double C = static_cast<double>(dout.size(-1));
      const at::Tensor g = dout * w;
      r.dx = rstd / C * (C * g - g.sum({-1}, true) - C / (C - 1.0) * xhat * (g * xhat).sum({-1}, true));
      return r;
    };
  });
  gpt("layernorm_backward: the sum(g) term left out", "layernorm_backward", BugClass::kMissingTerm, [](auto& t) {
    t.layernorm_backward = [](CT dout, CT xhat, CT rstd, CT w) {
      auto r = layers::layernorm_backward(dout, xhat, rstd, w);
      const double C = static_cast<double>(dout.size(-1));
      r.dx = r.dx + rstd / C * (dout * w).sum({-1}, true);
      return r;
    };
  });
  gpt("layernorm_backward: dweight without xhat", "layernorm_backward", BugClass::kMissingFactor, [](auto& t) {
    t.layernorm_backward = [](CT dout, CT xhat, CT rstd, CT w) {
      auto r = layers::layernorm_backward(dout, xhat, rstd, w);
      r.dw = r.db.clone();
      return r;
    };
  });
  gpt("layernorm_backward: 1e-6 too large", "layernorm_backward", BugClass::kScale1e6, [](auto& t) {
    t.layernorm_backward = [](CT dout, CT xhat, CT rstd, CT w) {
      auto r = layers::layernorm_backward(dout, xhat, rstd, w);
      r.dx = scaled(r.dx);
      return r;
    };
  });
  gpt("gelu_backward: the tanh's derivative term left out", "gelu_backward", BugClass::kMissingTerm,
      [](auto& t) { t.gelu_backward = [](CT dout, CT, CT tt) { return dout * 0.5 * (1.0 + tt); }; });
  gpt("gelu_backward: the cubic's 3 * 0.044715 x^2 left out", "gelu_backward", BugClass::kWrongDerivative, [](auto& t) {
    t.gelu_backward = [](CT dout, CT x, CT tt) {
      return dout * (0.5 * (1.0 + tt) + 0.5 * x * (1.0 - tt * tt) * std::sqrt(2.0 / M_PI));
    };
  });
  gpt("gelu_backward: 1e-6 too large", "gelu_backward", BugClass::kScale1e6, [](auto& t) {
    t.gelu_backward = [](CT dout, CT x, CT tt) { return scaled(layers::gelu_backward(dout, x, tt)); };
  });
  gpt("softmax_backward: without the sum(p * g) term", "softmax_backward", BugClass::kMissingTerm,
      [](auto& t) { t.softmax_backward = [](CT d, CT p) { return p * d; }; });
  gpt("softmax_backward: the sum over the query dim", "softmax_backward", BugClass::kReductionDim,
      [](auto& t) { t.softmax_backward = [](CT d, CT p) { return p * (d - (p * d).sum({-2}, true)); }; });
  gpt("softmax_backward: 1e-6 too large", "softmax_backward", BugClass::kScale1e6,
      [](auto& t) { t.softmax_backward = [](CT d, CT p) { return scaled(layers::softmax_backward(d, p)); }; });
  gpt(
      "attention_scores_backward: the mask not applied in backward", "attention_scores_backward",
      BugClass::kMissingFactor,
      [](auto& t) {
        t.attention_scores_backward = [](CT datt, CT q, CT k, double scale) {
          const at::Tensor d = datt * scale;
          return layers::ScoresGrads{d.matmul(k), d.transpose(-2, -1).matmul(q)};
        };
      },
      "equivalent: the masked scores are -inf, so their probabilities are exactly 0 and the softmax backward "
      "p * (g - sum p g) is already exactly 0 there; the mask's backward has nothing left to zero");
  gpt("attention_scores_backward: the 1/sqrt(hs) scale left out", "attention_scores_backward", BugClass::kMissingFactor,
      [](auto& t) {
        t.attention_scores_backward = [](CT datt, CT q, CT k, double) {
          return layers::attention_scores_backward(datt, q, k, 1.0);
        };
      });
  gpt("attention_scores_backward: dk = datt q (not transposed)", "attention_scores_backward", BugClass::kTransposed,
      [](auto& t) {
        t.attention_scores_backward = [](CT datt, CT q, CT k, double scale) {
          auto g = layers::attention_scores_backward(datt, q, k, scale);
          g.dk = (datt * scale).matmul(q);
          return g;
        };
      });
  gpt("attention_scores_backward: 1e-6 too large", "attention_scores_backward", BugClass::kScale1e6, [](auto& t) {
    t.attention_scores_backward = [](CT datt, CT q, CT k, double scale) {
      auto g = layers::attention_scores_backward(datt, q, k, scale);
      g.dq = scaled(g.dq);
      return g;
    };
  });
  gpt("attention_values_backward: dv = probs dy (not transposed)", "attention_values_backward", BugClass::kTransposed,
      [](auto& t) {
        t.attention_values_backward = [](CT dy, CT p, CT v) {
          auto g = layers::attention_values_backward(dy, p, v);
          g.dv = p.matmul(dy);
          return g;
        };
      });
  gpt("attention_values_backward: -dprobs", "attention_values_backward", BugClass::kSign, [](auto& t) {
    t.attention_values_backward = [](CT dy, CT p, CT v) {
      auto g = layers::attention_values_backward(dy, p, v);
      g.dprobs = -g.dprobs;
      return g;
    };
  });
  gpt("attention_values_backward: 1e-6 too large", "attention_values_backward", BugClass::kScale1e6, [](auto& t) {
    t.attention_values_backward = [](CT dy, CT p, CT v) {
      auto g = layers::attention_values_backward(dy, p, v);
      g.dv = scaled(g.dv);
      return g;
    };
  });
  gpt("residual_backward: the skip path's gradient not added", "residual_backward", BugClass::kMissingTerm,
      [](auto& t) { t.residual_backward = [](CT d) {
                      return layers::ResidualGrads{at::zeros_like(d), d};
                    }; });
  gpt("residual_backward: the branch gets nothing", "residual_backward", BugClass::kMissingTerm, [](auto& t) {
    t.residual_backward = [](CT d) { return layers::ResidualGrads{d, at::zeros_like(d)}; };
  });
  gpt("residual_backward: the gradient halved at the fork", "residual_backward", BugClass::kMissingFactor, [](auto& t) {
    t.residual_backward = [](CT d) { return layers::ResidualGrads{d * 0.5, d * 0.5}; };
  });
  gpt("position_embedding_backward: the mean over the batch", "position_embedding_backward", BugClass::kMissingFactor,
      [](auto& t) { t.position_embedding_backward = [](CT dx) { return dx.mean({0}); }; });
  gpt("position_embedding_backward: only the first sequence", "position_embedding_backward", BugClass::kOneElement,
      [](auto& t) { t.position_embedding_backward = [](CT dx) { return dx[0].clone(); }; });
  gpt("position_embedding_backward: 1e-6 too large", "position_embedding_backward", BugClass::kScale1e6,
      [](auto& t) { t.position_embedding_backward = [](CT dx) { return scaled(dx.sum({0})); }; });
  gpt("masked_cross_entropy_backward: the closed form (softmax - onehot) / N, rounded otherwise",
      "masked_cross_entropy_backward", BugClass::kOneUlp, [](auto& t) {
        t.masked_cross_entropy_backward = [](CT logits, CT targets) {
          const at::Tensor counted = targets.ne(-1);
          const double N = static_cast<double>(counted.sum().item<std::int64_t>());
          const at::Tensor onehot = at::one_hot(targets.clamp_min(0), logits.size(-1)).to(logits.scalar_type());
          return (at::softmax(logits, -1) - onehot) * counted.unsqueeze(-1).to(logits.scalar_type()) / N;
        };
      });
  gpt("masked_cross_entropy_backward: ignored positions not masked", "masked_cross_entropy_backward",
      BugClass::kMissingTerm, [](auto& t) {
        t.masked_cross_entropy_backward = [](CT logits, CT targets) {
          const at::Tensor counted = targets.ne(-1);
          const double count = static_cast<double>(counted.sum().item<std::int64_t>());
          at::Tensor d = layers::masked_cross_entropy_backward(logits, targets);
          return d + at::softmax(logits, -1) * targets.eq(-1).unsqueeze(-1).to(d.scalar_type()) / count;
        };
      });
  gpt("masked_cross_entropy_backward: the mean over every position", "masked_cross_entropy_backward",
      BugClass::kMissingFactor, [](auto& t) {
        t.masked_cross_entropy_backward = [](CT logits, CT targets) {
          const double count = static_cast<double>(targets.ne(-1).sum().item<std::int64_t>());
          return layers::masked_cross_entropy_backward(logits, targets) *
                 (count / static_cast<double>(targets.numel()));
        };
      });
  gpt("masked_cross_entropy_backward: 1e-6 too large", "masked_cross_entropy_backward", BugClass::kScale1e6,
      [](auto& t) {
        t.masked_cross_entropy_backward = [](CT l, CT y) {
          return scaled(layers::masked_cross_entropy_backward(l, y));
        };
      });
  // ---- The training kernel's pieces (kernel/mlp_kernel.h), seen by its verified step ------------
  auto kern = [&](std::string name, std::string fn, BugClass bug, std::function<void(kernel::KernelTable&)> inject) {
    Mutant mu{std::move(name), std::move(fn), bug, true, "", "", {}, "kernel", {}, std::move(inject)};
    m.push_back(std::move(mu));
  };
  using I = std::int64_t;
  kern("kernel cross_entropy_backward: the 1/n left out", "cross_entropy_backward", BugClass::kMissingFactor,
       [](auto& t) {
         t.cross_entropy_backward = [](const float* probs, const I* Y, I n, I V, float* d) {
           kernel::kernel_functions().cross_entropy_backward(probs, Y, n, V, d);
           for (I k = 0; k < n * V; ++k) d[k] *= static_cast<float>(n);
         };
       });
  kern("kernel cross_entropy_backward: the one-hot at the next column", "cross_entropy_backward", BugClass::kOneElement,
       [](auto& t) {
         t.cross_entropy_backward = [](const float* probs, const I* Y, I n, I V, float* d) {
           for (I i = 0; i < n; ++i) {
             for (I j = 0; j < V; ++j) d[i * V + j] = probs[i * V + j] / static_cast<float>(n);
             d[i * V + (Y[i] + 1) % V] -= 1.0f / static_cast<float>(n);
           }
         };
       });
  kern("kernel linear_backward: dx through W, not W^T", "linear_backward", BugClass::kTransposed, [](auto& t) {
    t.linear_backward = [](const float* dout, const float* x, const float* W, I n, I in, I out, float* dx, float* dW) {
      kernel::kernel_functions().linear_backward(dout, x, W, n, in, out, nullptr, dW);
      if (dx) {  // W [in, out] read as if it were [out, in] row-major
        for (I i = 0; i < n; ++i) {
          for (I a = 0; a < in; ++a) {
            double s = 0.0;
            for (I b = 0; b < out; ++b) s += static_cast<double>(dout[i * out + b]) * W[b * in + a];
            dx[i * in + a] = static_cast<float>(s);
          }
        }
      }
    };
  });
  kern("kernel linear_backward: dx^T = W @ dout^T left untransposed", "linear_backward", BugClass::kTransposed,
       [](auto& t) {
         t.linear_backward = [](const float* dout, const float* x, const float* W, I n, I in, I out, float* dx,
                                float* dW) {
           kernel::kernel_functions().linear_backward(dout, x, W, n, in, out, nullptr, dW);
           if (dx) {  // the kernel's (W @ dout^T)^T with the last transpose forgotten: [in, n] laid into [n, in]
             std::vector<float> doutT(static_cast<std::size_t>(out * n));
             kernel::transpose(n, out, dout, out, doutT.data(), n);
             kernel::small_gemm(false, in, n, out, W, out, doutT.data(), n, false, dx, n);
           }
         };
       });
  kern("kernel linear_backward: dW written transposed", "linear_backward", BugClass::kTransposed, [](auto& t) {
    t.linear_backward = [](const float* dout, const float* x, const float* W, I n, I in, I out, float* dx, float* dW) {
      kernel::kernel_functions().linear_backward(dout, x, W, n, in, out, dx, dW);
      std::vector<float> copy(dW, dW + in * out);
      for (I a = 0; a < in; ++a) {
        for (I b = 0; b < out; ++b) dW[b * in + a] = copy[static_cast<std::size_t>(a * out + b)];
      }
    };
  });
  kern("kernel bias_backward: the last row left out", "bias_backward", BugClass::kOneElement, [](auto& t) {
    t.bias_backward = [](const float* dout, I n, I out, float* db) {
      kernel::kernel_functions().bias_backward(dout, n - 1, out, db);
    };
  });
  kern("kernel tanh_backward: 1 - h instead of 1 - h^2", "tanh_backward", BugClass::kWrongDerivative, [](auto& t) {
    t.tanh_backward = [](const float* dh, const float* h, I size, float* d) {
      for (I k = 0; k < size; ++k) d[k] = dh[k] * (1.0f - h[k]);
    };
  });
  kern("kernel bias_backward: the mean over the batch, not the sum", "bias_backward", BugClass::kMissingFactor,
       [](auto& t) {
         t.bias_backward = [](const float* dout, I n, I out, float* db) {
           kernel::kernel_functions().bias_backward(dout, n, out, db);
           for (I j = 0; j < out; ++j) db[j] /= static_cast<float>(n);
         };
       });
  kern("kernel tanh_backward: h^2 - 1, the sign flipped", "tanh_backward", BugClass::kSign, [](auto& t) {
    t.tanh_backward = [](const float* dh, const float* h, I size, float* d) {
      for (I k = 0; k < size; ++k) d[k] = dh[k] * (h[k] * h[k] - 1.0f);
    };
  });
  kern("kernel linear_backward: dW accumulated onto the last step's", "linear_backward", BugClass::kNoAccumulation,
       [](auto& t) {
         t.linear_backward = [](const float* dout, const float* x, const float* W, I n, I in, I out, float* dx,
                                float* dW) {
           std::vector<float> stale(dW, dW + in * out);  // what the workspace held from the previous step
           kernel::kernel_functions().linear_backward(dout, x, W, n, in, out, dx, dW);
           for (I k = 0; k < in * out; ++k) dW[k] += stale[static_cast<std::size_t>(k)];
         };
       });
  kern("kernel batchnorm_backward: n/(n-1) left out", "batchnorm_backward", BugClass::kBessel, [](auto& t) {
    t.batchnorm_backward = [](const float* dy, const float* raw, const float* inv, const float* g, I n, I H, float* dx,
                              float* dg, float* db) {
      kernel::kernel_functions().batchnorm_backward(dy, raw, inv, g, n, H, dx, dg, db);
      for (I j = 0; j < H; ++j) {  // add back (n/(n-1) - 1) * bnraw * dbngain, scaled as the closed form
        const double k = static_cast<double>(g[j]) * inv[j] / static_cast<double>(n);
        for (I i = 0; i < n; ++i) {
          dx[i * H + j] += static_cast<float>(k * (static_cast<double>(n) / (n - 1.0) - 1.0) * raw[i * H + j] * dg[j]);
        }
      }
    };
  });
  kern("kernel batchnorm_backward: the sum(dy) term left out", "batchnorm_backward", BugClass::kMissingTerm,
       [](auto& t) {
         t.batchnorm_backward = [](const float* dy, const float* raw, const float* inv, const float* g, I n, I H,
                                   float* dx, float* dg, float* db) {
           kernel::kernel_functions().batchnorm_backward(dy, raw, inv, g, n, H, dx, dg, db);
           for (I j = 0; j < H; ++j) {
             const double k = static_cast<double>(g[j]) * inv[j] / static_cast<double>(n);
             for (I i = 0; i < n; ++i) dx[i * H + j] += static_cast<float>(k * db[j]);
           }
         };
       });
  kern("kernel embedding_backward: repeated rows overwrite", "embedding_backward", BugClass::kNoAccumulation,
       [](auto& t) {
         t.embedding_backward = [](const float* demb, const I* Xb, I n, I T, I E, I V, float* dC) {
           std::fill(dC, dC + V * E, 0.0f);
           for (I r = 0; r < n * T; ++r) std::copy(demb + r * E, demb + (r + 1) * E, dC + Xb[r] * E);
         };
       });
  kern("kernel embedding_backward: the last context position dropped", "embedding_backward", BugClass::kOneElement,
       [](auto& t) {
         t.embedding_backward = [](const float* demb, const I* Xb, I n, I T, I E, I V, float* dC) {
           std::fill(dC, dC + V * E, 0.0f);
           for (I i = 0; i < n; ++i) {
             for (I p = 0; p + 1 < T; ++p) {  // p < T - 1: the last character of each context is skipped
               const float* row = demb + (i * T + p) * E;
               float* dst = dC + Xb[i * T + p] * E;
               for (I e = 0; e < E; ++e) dst[e] += row[e];
             }
           }
         };
       });
  kern("kernel sgd_update: p += lr * g", "sgd_update", BugClass::kSign, [](auto& t) {
    t.sgd_update = [](float* p, const float* g, I size, float lr) {
      for (I k = 0; k < size; ++k) p[k] += lr * g[k];
    };
  });
  kern("kernel batchnorm_forward: the biased variance", "batchnorm_forward", BugClass::kBessel, [](auto& t) {
    t.batchnorm_forward = [](const float* x, const float* g, const float* b, I n, I H, float* mean, float* var,
                             float* inv, float* raw, float* y) {
      kernel::kernel_functions().batchnorm_forward(x, g, b, n, H, mean, var, inv, raw, y);
      for (I j = 0; j < H; ++j) {
        var[j] *= static_cast<float>((n - 1.0) / static_cast<double>(n));
        inv[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j]) + model::kBnEps));
        for (I i = 0; i < n; ++i) {
          raw[i * H + j] = (x[i * H + j] - mean[j]) * inv[j];
          y[i * H + j] = g[j] * raw[i * H + j] + b[j];
        }
      }
    };
  });
  kern("kernel batchnorm_forward: eps left out", "batchnorm_forward", BugClass::kEpsDropped, [](auto& t) {
    t.batchnorm_forward = [](const float* x, const float* g, const float* b, I n, I H, float* mean, float* var,
                             float* inv, float* raw, float* y) {
      kernel::kernel_functions().batchnorm_forward(x, g, b, n, H, mean, var, inv, raw, y);
      for (I j = 0; j < H; ++j) {
        inv[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j])));
        for (I i = 0; i < n; ++i) {
          raw[i * H + j] = (x[i * H + j] - mean[j]) * inv[j];
          y[i * H + j] = g[j] * raw[i * H + j] + b[j];
        }
      }
    };
  });
  return m;
}
}  // namespace

std::string bug_class_name(BugClass c) {
  switch (c) {
    case BugClass::kSign:
      return "sign";
    case BugClass::kMissingFactor:
      return "missing factor";
    case BugClass::kMissingTerm:
      return "missing term";
    case BugClass::kWrongDerivative:
      return "wrong derivative";
    case BugClass::kReductionDim:
      return "reduction dim";
    case BugClass::kKeepdim:
      return "keepdim dropped";
    case BugClass::kNoAccumulation:
      return "no accumulation";
    case BugClass::kBessel:
      return "n vs n-1";
    case BugClass::kEpsDropped:
      return "eps dropped";
    case BugClass::kMaxRouting:
      return "max routing";
    case BugClass::kTransposed:
      return "transposed";
    case BugClass::kOneElement:
      return "one row/element";
    case BugClass::kOneUlp:
      return "1 ULP";
    case BugClass::kScale1e6:
      return "1e-6 scale";
  }
  return "?";
}

Expectation Mutant::expect() const {
  Expectation e;
  if (!equivalent.empty()) return e;  // nothing can see it
  if (arch == "kernel") {  // float32 only: seen by check's kernel rows (Exercise 4) and the kernel's verified step
    e.check_f32 = e.check_f64 = true;
    e.verify_f32 = true;
    return e;
  }
  if (bug == BugClass::kOneUlp || bug == BugClass::kMaxRouting) {
    e.check_ledger = true;  // the accuracy rule cannot see a last-bit change; exactness can
  } else if (bug == BugClass::kScale1e6) {
    e.check_f64 = true;
    e.verify_f64 = training_step;
  } else {
    e.check_f32 = e.check_f64 = true;
    e.verify_f32 = e.verify_f64 = training_step;
  }
  return e;
}

const std::vector<Mutant>& mutant_catalog() {
  static const std::vector<Mutant> catalog = build();
  return catalog;
}

model::BackwardTable mutated_table(const Mutant& m) {
  model::BackwardTable t = model::hand_derived();
  if (m.inject) m.inject(t);
  return t;
}

kernel::KernelTable mutated_kernel_table(const Mutant& m) {
  kernel::KernelTable t = kernel::kernel_functions();
  if (m.inject_kernel) m.inject_kernel(t);
  return t;
}

layers::BackwardTable mutated_layers_table(const Mutant& m) {
  layers::BackwardTable t = layers::hand_derived();
  if (m.inject_layers) m.inject_layers(t);
  return t;
}

}  // namespace bpn::verify
