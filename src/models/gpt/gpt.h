// makemore's Transformer (GPT-2 style), written out as llm.c writes it: every intermediate of every
// block recorded, and a hand-derived backward through layers::BackwardTable.
//   x = wte[idx] + wpe[:T]
//   per block: x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
//     attn: c_attn Linear(C, 3C) -> q, k, v over nh heads -> softmax(mask(q k^T / sqrt(hs))) v -> c_proj Linear(C, C)
//     mlp:  c_fc Linear(C, 4C) -> GELU (tanh) -> c_proj Linear(4C, C)
//   ln_f, then lm_head Linear(C, V) without bias; the masked cross-entropy (targets -1 are ignored)
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "layers/backward_table.h"
#include "layers/transformer.h"

namespace bpn::models {

struct GPTConfig {
  std::int64_t vocab_size = 27;
  std::int64_t block_size = 16;  // L: the longest word + 1
  std::int64_t n_layer = 4;
  std::int64_t n_head = 4;
  std::int64_t n_embd = 64;
  std::uint64_t seed = 42;
  nlohmann::json to_json() const;
};

using Named = std::vector<std::pair<std::string, at::Tensor>>;

class GPT {
 public:
  GPT() = default;
  // Draws the weights from g (float32): embeddings randn * 0.02, Linear weights
  // randn(in, out) / sqrt(in), biases 0, LayerNorm weight 1 and bias 0; then converts to dtype.
  GPT(const GPTConfig& config, at::Generator& g, at::ScalarType dtype = at::kFloat);
  GPT(const GPT& other, at::ScalarType dtype);  // the same weights in another dtype

  // idx, targets: [B, T] int64 (targets -1 where ignored). Records every intermediate (in forward
  // order) and returns the loss.
  at::Tensor forward(const at::Tensor& idx, const at::Tensor& targets, Named* record = nullptr);
  // The forward up to the logits [B, T, V] (what sampling needs); forward() is this plus the loss.
  at::Tensor logits(const at::Tensor& idx, Named* record = nullptr);
  // After forward: the gradient of every recorded intermediate (last first), then of every parameter.
  Named backward();

  std::vector<std::pair<std::string, at::Tensor*>> parameters();
  std::int64_t numel();
  GPTConfig config;
  const layers::BackwardTable* table = &layers::hand_derived();
  // Keep what the manual backward needs (LayerNorm's xhat and rstd, GELU's tanh). The autograd twin
  // turns it off: autograd keeps its own, and the twin must not pay for the manual path's bookkeeping.
  bool save_for_manual_backward = true;

 private:
  struct Linear {
    at::Tensor w, b;  // [in, out], [out] (b undefined for lm_head)
  };
  struct Block {
    at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    Linear c_attn, attn_proj, c_fc, mlp_proj;
  };
  struct BlockSaved {
    at::Tensor x_in, ln1, q, k, v, probs, y, res1, ln2, fc, gelu, gelu_t;
    layers::LayerNormSaved ln1_s, ln2_s;
  };
  at::Tensor wte_, wpe_, lnf_w_, lnf_b_;
  Linear lm_head_;
  std::vector<Block> blocks_;
  // saved by forward
  at::Tensor idx_, targets_, x0_, x_final_, lnf_, logits_;
  layers::LayerNormSaved lnf_s_;
  std::vector<BlockSaved> saved_;
};

}  // namespace bpn::models
