// The GPT's part of the mutation catalog (verify/mutants.h): realistic bugs in the Transformer's
// functions (layers/transformer.h), checked on a small GPT, each written the way it would be written by mistake.
#include "models/gpt/mutants.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <vector>

#include "layers/cross_entropy.h"
#include "layers/layer.h"
#include "layers/linear.h"
#include "layers/transformer.h"

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

std::vector<verify::Mutant> gpt_mutants() {
  std::vector<Mutant> m;
  // ---- The Transformer's functions, checked on a small GPT (check --arch gpt) -------------------
  auto gpt = [&](std::string name, std::string fn, BugClass bug, std::function<void(layers::BackwardTable&)> inject,
                 std::string equivalent = "") {
    Mutant mu{std::move(name),       std::move(fn), bug,      true,  "",
              std::move(equivalent), "gpt",         "[GPT] ", false, std::move(inject)};
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
  return m;
}

}  // namespace bpn::models
