// The WaveNet's part of the mutation catalog (verify/mutants.h): realistic bugs in the layer library's
// functions (src/layers/), checked on the WaveNet, each written the way it would be written by mistake.
#include "models/wavenet/mutants.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <vector>

#include "layers/batchnorm1d.h"
#include "layers/cross_entropy.h"
#include "layers/embedding.h"
#include "layers/flatten_consecutive.h"
#include "layers/layer.h"
#include "layers/linear.h"
#include "layers/tanh.h"
#include "models/mlp/backward.h"  // the MLP's closed-form cross-entropy: the layer's, rounded otherwise

namespace bpn::models {

namespace {
using T = at::Tensor;
using CT = const at::Tensor&;
using verify::BugClass;
using verify::Mutant;
using verify::one_ulp;
using verify::rows_of;
using verify::scaled;
}  // namespace

std::vector<verify::Mutant> wavenet_mutants() {
  std::vector<Mutant> m;
  // ---- The layer library, checked on the WaveNet (check --arch wavenet) --------------------------
  auto layer = [&](std::string name, std::string fn, BugClass bug, std::function<void(layers::BackwardTable&)> inject,
                   std::string narrowed = "") {
    Mutant mu{std::move(name), std::move(fn),    bug, true, std::move(narrowed), "", "wavenet", "[WaveNet] ",
              false,           std::move(inject)};
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
  return m;
}

}  // namespace bpn::models
