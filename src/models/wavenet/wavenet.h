// The hierarchical WaveNet-style model of makemore part 5, composed from the layer library:
//   Embedding(V, 24)
//   3 x [FlattenConsecutive(2) -> Linear(., 128, bias=False) -> BatchNorm1d(128) -> Tanh]
//   Linear(128, V), its weight scaled by 0.1 at init
// With block_size 8 and V = 27: 76,579 parameters. Initialised as the lecture does after
// torch.manual_seed(42): every draw, in order, from one CPU generator, which then draws the batches.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "layers/cross_entropy.h"
#include "layers/sequential.h"

namespace bpn::models {

struct WaveNetConfig {
  std::int64_t vocab_size = 27;
  std::int64_t block_size = 8;  // a power of two: three FlattenConsecutive(2) reduce 8 positions to 1
  std::int64_t n_embd = 24;
  std::int64_t n_hidden = 128;
  std::uint64_t seed = 42;
  nlohmann::json to_json() const;
};

class WaveNet {
 public:
  // Draws the parameters from g in the lecture's order (float32), then converts them to dtype.
  WaveNet(const WaveNetConfig& config, at::Generator& g, at::ScalarType dtype = at::kFloat);
  WaveNet() = default;  // empty; assigned from a constructed one
  // A copy with the same parameters and running statistics, in another dtype.
  WaveNet(const WaveNet& other, at::ScalarType dtype);

  struct Forward {
    layers::NamedTensors outputs;  // every layer's output: "embedding1", "flatten1", "linear1", ...
    at::Tensor loss;
  };
  Forward forward(const at::Tensor& Xb, const at::Tensor& Yb, const layers::Sequential::Hook& hook = {});
  // After forward: the gradient of every layer output (last first), then of every parameter.
  layers::NamedTensors backward();
  at::Tensor logits(const at::Tensor& X);  // in the current mode (eval for sampling and evaluation)

  layers::NamedSlots parameters() { return net.parameters(); }
  std::int64_t numel();
  void set_table(const layers::BackwardTable* table);
  // On: outside autograd, every Tanh runs at::tanh and every BatchNorm1d ATen's statistics
  // (`vector_tanh` and `loop_statistics` off): the step-0 loss then equals autograd's bit for bit (the
  // twin test). Off (the default): the training step's faster forward, which rounds differently in the
  // last bits.
  void set_autograd_forward(bool on);

  WaveNetConfig config;
  layers::Sequential net;
  layers::CrossEntropy loss_fn;
};

}  // namespace bpn::models
