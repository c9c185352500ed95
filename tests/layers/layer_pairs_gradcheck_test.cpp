// Every layer's hand-derived backward pair (src/layers/) through bpn::gradcheck, the public API:
// central differences in float64 with every structural check (reentrancy, undefined and zero
// grad_outputs, non-contiguous inputs, gradient dtypes), and float32 by the verdict rule against the
// pair's own float64 run. The models' checks compare the same functions with autograd in context.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <bpninja/gtest.h>

#include "layers/batchnorm1d.h"
#include "layers/cross_entropy.h"
#include "layers/embedding.h"
#include "layers/flatten_consecutive.h"
#include "layers/linear.h"
#include "layers/recurrent.h"
#include "layers/tanh.h"
#include "layers/transformer.h"

namespace {

using bpn::Tensors;

at::Tensor pairs_leaf(at::IntArrayRef shape, std::uint64_t seed, double scale = 1.0) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (scale * at::randn(shape, g, at::TensorOptions(at::kDouble))).requires_grad_(true);
}

// The pair in float64 and again with the floating inputs in float32.
void check_pair(const std::string& name, const bpn::TensorFn& forward, const bpn::BackwardFn& backward,
                const Tensors& inputs64) {
  bpn::GradcheckOptions options;
  options.name = name;
  EXPECT_GRADCHECK(forward, backward, inputs64, options);
  Tensors inputs32;
  for (const at::Tensor& t : inputs64) {
    inputs32.push_back(at::isFloatingType(t.scalar_type()) ? t.detach().to(at::kFloat).requires_grad_(t.requires_grad())
                                                           : t);
  }
  EXPECT_GRADCHECK(forward, backward, inputs32, options);
}

TEST(LayerPairsGradcheck, Linear) {
  check_pair(
      "linear", [](const Tensors& in) { return in[0].matmul(in[1]) + in[2]; },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        const bpn::layers::LinearGrads d = bpn::layers::linear_backward(g[0], in[0], in[1], /*bias=*/true);
        return {d.dx, d.dW, d.db};
      },
      {pairs_leaf({2, 3, 4}, 1), pairs_leaf({4, 5}, 2), pairs_leaf({5}, 3)});
}

TEST(LayerPairsGradcheck, Tanh) {
  check_pair(
      "tanh", [](const Tensors& in) { return at::tanh(in[0]); },
      [](const Tensors& g, const Tensors& in) { return bpn::layers::tanh_backward(g[0], at::tanh(in[0])); },
      {pairs_leaf({4, 6}, 4)});
}

TEST(LayerPairsGradcheck, BatchNorm1dInTrainingMode) {
  auto layer = [](const Tensors& in) {
    auto bn = std::make_shared<bpn::layers::BatchNorm1d>(in[0].size(-1));
    bn->gamma = in[1].detach();
    bn->beta = in[2].detach();
    bn->running_mean = bn->running_mean.to(in[0].scalar_type());
    bn->running_var = bn->running_var.to(in[0].scalar_type());
    return bn;
  };
  check_pair(
      "batchnorm1d", [layer](const Tensors& in) { return layer(in)->forward(in[0]); },
      [layer](const Tensors& g, const Tensors& in) -> Tensors {
        auto bn = layer(in);
        bn->forward(in[0]);
        const at::Tensor dx = bn->backward(g[0]);
        return {dx, bn->dgamma, bn->dbeta};
      },
      {pairs_leaf({5, 3}, 5), pairs_leaf({3}, 6), pairs_leaf({3}, 7)});
}

TEST(LayerPairsGradcheck, EmbeddingWithRepeatedIndices) {
  const at::Tensor ix = at::tensor({0, 3, 3, 3, 1, 0}, at::kLong).reshape({3, 2});
  check_pair(
      "embedding",
      [](const Tensors& in) {
        return in[0].index_select(0, in[1].reshape(-1)).reshape({3, 2, -1});
      },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        return {bpn::layers::embedding_backward(g[0], in[1], in[0]), at::Tensor()};
      },
      {pairs_leaf({4, 5}, 8), ix});
}

TEST(LayerPairsGradcheck, FlattenConsecutive) {
  check_pair(
      "flatten_consecutive",
      [](const Tensors& in) {
        return in[0].reshape({2, 2, 6});
      },
      [](const Tensors& g, const Tensors& in) { return bpn::layers::flatten_consecutive_backward(g[0], in[0]); },
      {pairs_leaf({2, 4, 3}, 9)});
}

TEST(LayerPairsGradcheck, CrossEntropyWithAnIgnoredRow) {
  const at::Tensor Y = at::tensor({2, -1, 0, 4}, at::kLong);
  check_pair(
      "cross_entropy", [](const Tensors& in) { return bpn::layers::masked_cross_entropy_forward(in[0], in[1]); },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        return {bpn::layers::cross_entropy_backward(in[0], in[1]) * g[0], at::Tensor()};
      },
      {pairs_leaf({4, 5}, 10), Y});
}

TEST(LayerPairsGradcheck, LayerNorm) {
  check_pair(
      "layernorm", [](const Tensors& in) { return bpn::layers::layernorm_forward(in[0], in[1], in[2], nullptr); },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        bpn::layers::LayerNormSaved saved;
        bpn::layers::layernorm_forward(in[0], in[1], in[2], &saved);
        const bpn::layers::LayerNormGrads d = bpn::layers::layernorm_backward(g[0], saved.xhat, saved.rstd, in[1]);
        return {d.dx, d.dw, d.db};
      },
      {pairs_leaf({2, 3, 4}, 11), pairs_leaf({4}, 12), pairs_leaf({4}, 13)});
}

TEST(LayerPairsGradcheck, Gelu) {
  check_pair(
      "gelu", [](const Tensors& in) { return bpn::layers::gelu_forward(in[0]); },
      [](const Tensors& g, const Tensors& in) {
        at::Tensor t;
        bpn::layers::gelu_forward(in[0], &t);
        return bpn::layers::gelu_backward(g[0], in[0], t);
      },
      {pairs_leaf({3, 7}, 14, 2.0)});
}

TEST(LayerPairsGradcheck, Softmax) {
  check_pair(
      "softmax", [](const Tensors& in) { return at::softmax(in[0], -1); },
      [](const Tensors& g, const Tensors& in) { return bpn::layers::softmax_backward(g[0], at::softmax(in[0], -1)); },
      {pairs_leaf({2, 3, 5}, 15)});
}

TEST(LayerPairsGradcheck, AttentionValues) {
  check_pair(
      "attention_values", [](const Tensors& in) { return in[0].matmul(in[1]); },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        const bpn::layers::ValuesGrads d = bpn::layers::attention_values_backward(g[0], in[0], in[1]);
        return {d.dprobs, d.dv};
      },
      {pairs_leaf({1, 2, 3, 3}, 16), pairs_leaf({1, 2, 3, 4}, 17)});
}

// ---- The recurrent pieces (issue 26) ------------------------------------------------------------

TEST(LayerPairsGradcheck, Concat) {
  check_pair(
      "concat",
      [](const Tensors& in) {
        return at::cat({in[0], in[1]}, -1);
      },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        const bpn::layers::ConcatGrads d = bpn::layers::concat_backward(g[0], in[0].size(-1));
        return {d.da, d.db};
      },
      {pairs_leaf({3, 4}, 18), pairs_leaf({3, 5}, 19)});
}

TEST(LayerPairsGradcheck, Sigmoid) {
  check_pair(
      "sigmoid", [](const Tensors& in) { return at::sigmoid(in[0]); },
      [](const Tensors& g, const Tensors& in) { return bpn::layers::sigmoid_backward(g[0], at::sigmoid(in[0])); },
      {pairs_leaf({4, 5}, 20)});
}

TEST(LayerPairsGradcheck, GateProduct) {
  check_pair(
      "product", [](const Tensors& in) { return in[0] * in[1]; },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        const bpn::layers::ProductGrads d = bpn::layers::product_backward(g[0], in[0], in[1]);
        return {d.da, d.db};
      },
      {pairs_leaf({3, 4}, 21), pairs_leaf({3, 4}, 22)});
}

TEST(LayerPairsGradcheck, Blend) {
  check_pair(
      "blend", [](const Tensors& in) { return (1 - in[0]) * in[1] + in[0] * in[2]; },
      [](const Tensors& g, const Tensors& in) -> Tensors {
        const bpn::layers::BlendGrads d = bpn::layers::blend_backward(g[0], in[0], in[1], in[2]);
        return {d.dz, d.dprev, d.dcand};
      },
      {pairs_leaf({3, 4}, 23, 0.3), pairs_leaf({3, 4}, 24), pairs_leaf({3, 4}, 25)});
}

TEST(LayerPairsGradcheck, StartStateExpandedOverTheBatch) {
  check_pair(
      "start_state",
      [](const Tensors& in) {
        return in[0].expand({5, in[0].size(1)});
      },
      [](const Tensors& g, const Tensors&) -> Tensors { return {bpn::layers::start_state_backward(g[0])}; },
      {pairs_leaf({1, 4}, 26)});
}

// A cell over three positions with the hidden state carried: the cells' backward and bptt_backward
// through the public API, the start state and the weights shared by every step.
void check_unrolled(const std::string& name, bool gru) {
  const std::int64_t E = 3, H = 4, B = 2, T = 3, gates = gru ? 3 : 1;
  auto params = [gates](const Tensors& in) {
    std::vector<at::Tensor> p;
    for (std::int64_t i = 0; i < 2 * gates; ++i) p.push_back(in[static_cast<std::size_t>(2 + i)]);
    return p;
  };
  auto forward = [=](const Tensors& in) {
    at::Tensor h = in[1].expand({B, H});
    std::vector<at::Tensor> hs;
    for (std::int64_t t = 0; t < T; ++t) {
      const at::Tensor x = in[0].select(1, t);
      h = gru ? bpn::layers::gru_cell_forward(x, h, params(in), nullptr)
              : bpn::layers::rnn_cell_forward(x, h, params(in), nullptr);
      hs.push_back(h);
    }
    return at::stack(hs, 1);
  };
  auto backward = [=](const Tensors& g, const Tensors& in) -> Tensors {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> p;
    for (const at::Tensor& t : params(in)) p.push_back(t.detach());
    std::vector<bpn::layers::CellSaved> saved(T);
    at::Tensor h = in[1].detach().expand({B, H});
    for (std::int64_t t = 0; t < T; ++t) {
      const at::Tensor x = in[0].detach().select(1, t);
      h = gru ? bpn::layers::gru_cell_forward(x, h, p, &saved[t]) : bpn::layers::rnn_cell_forward(x, h, p, &saved[t]);
    }
    const bpn::layers::BackwardTable& table = bpn::layers::hand_derived();
    const bpn::layers::BpttGrads d = bpn::layers::bptt_backward(g[0], [&](std::int64_t t, const at::Tensor& dh) {
      return gru ? bpn::layers::gru_cell_backward(table, dh, saved[t], p)
                 : bpn::layers::rnn_cell_backward(table, dh, saved[t], p);
    });
    Tensors out = {d.dx, bpn::layers::start_state_backward(d.dh0)};
    out.insert(out.end(), d.dparams.begin(), d.dparams.end());
    return out;
  };
  Tensors in = {pairs_leaf({B, T, E}, 27), pairs_leaf({1, H}, 28, 0.5)};
  for (std::int64_t i = 0; i < gates; ++i) {
    in.push_back(pairs_leaf({E + H, H}, 29 + 2 * i, 0.5));
    in.push_back(pairs_leaf({H}, 30 + 2 * i, 0.5));
  }
  check_pair(name, forward, backward, in);
}

TEST(LayerPairsGradcheck, RnnCellUnrolledThroughTime) { check_unrolled("rnn_bptt", false); }
TEST(LayerPairsGradcheck, GruCellUnrolledThroughTime) { check_unrolled("gru_bptt", true); }

}  // namespace
