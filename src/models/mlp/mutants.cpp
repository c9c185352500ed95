// The MLP's part of the mutation catalog (verify/mutants.h): realistic bugs in every hand-derived
// function of Exercises 1-4 (models/mlp/backward_table.h) and in every piece of the raw-memory
// training kernel (kernel/mlp_kernel.h). Each is written the way it would be written by mistake;
// functions that are loops in the real code get their bug on top of (or instead of) the real loop's
// result: the effect on the gradient is what the verdict must see.
#include "models/mlp/mutants.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <vector>

#include "kernel/mlp_kernel.h"
#include "kernel/products.h"
#include "models/mlp/backward.h"
#include "models/mlp/backward_table.h"

namespace bpn::models {

namespace {
using T = at::Tensor;
using CT = const at::Tensor&;
using model::Variance;
using verify::BugClass;
using verify::Mutant;
using verify::one_ulp;
using verify::rows_of;
using verify::scaled;
}  // namespace

std::vector<verify::Mutant> mlp_mutants() {
  std::vector<Mutant> m;
  auto add = [&](std::string name, std::string fn, BugClass bug, bool training,
                 std::function<void(model::BackwardTable&)> inject, std::string narrowed = "") {
    Mutant mu{std::move(name), std::move(fn),    bug, training, std::move(narrowed), "", "mlp", "",
              false,           std::move(inject)};
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
  // ---- The training kernel's pieces (kernel/mlp_kernel.h), seen by its verified step ------------
  auto kern = [&](std::string name, std::string fn, BugClass bug, std::function<void(kernel::KernelTable&)> inject) {
    Mutant mu{std::move(name), std::move(fn), bug, true, "", "", "mlp", "[kernel] ", true, std::move(inject)};
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
           // dx = dout @ W^T formed as (W @ dout^T)^T with the last transpose forgotten: [in, n] laid into [n, in]
           if (dx) kernel::blas_gemm(false, true, in, n, out, W, dout, dx);
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

}  // namespace bpn::models
