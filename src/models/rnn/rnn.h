// makemore's recurrent language models: the RNN and the GRU (makemore.py's RNN class with an RNNCell
// or a GRUCell), every hidden state recorded and a hand-derived backward through time, through
// layers::BackwardTable (layers/recurrent.h).
//   emb = wte[idx]                                  [B, T, E]
//   h_{-1} = start.expand(B, H);  h_t = cell(emb[:, t], h_{t-1})   for t = 0 .. T-1
//   logits = stack(h_t) @ W_head + b_head           [B, T, V]; the masked cross-entropy (targets -1 ignored)
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "layers/backward_table.h"
#include "layers/recurrent.h"

namespace bpn::models {

enum class Cell { kRnn, kGru };

struct RecurrentConfig {
  Cell cell = Cell::kRnn;
  std::int64_t vocab_size = 27;
  std::int64_t block_size = 16;  // T: the longest word + 1
  std::int64_t n_embd = 64;      // E
  std::int64_t n_embd2 = 64;     // H
  std::uint64_t seed = 42;
  std::string arch() const;  // the model's registered name: the cell's
  nlohmann::json to_json() const;
};

using RecurrentNamed = std::vector<std::pair<std::string, at::Tensor>>;

class RecurrentLM {
 public:
  RecurrentLM() = default;
  // Draws the weights from g (float32) as PyTorch initialises makemore's modules: wte N(0, 1) (nn.Embedding),
  // every Linear's weight and bias uniform in +-1/sqrt(fan_in) (nn.Linear), start zeros; then dtype.
  RecurrentLM(const RecurrentConfig& config, at::Generator& g, at::ScalarType dtype = at::kFloat);
  RecurrentLM(const RecurrentLM& other, at::ScalarType dtype);  // the same weights in another dtype

  // idx, targets: [B, T] int64. Records every intermediate (forward order) and returns the loss.
  at::Tensor forward(const at::Tensor& idx, const at::Tensor& targets, RecurrentNamed* record = nullptr);
  at::Tensor logits(const at::Tensor& idx, RecurrentNamed* record = nullptr);  // [B, T, V]
  // After forward: the gradient of every recorded intermediate (last first), then of every parameter.
  RecurrentNamed backward();

  std::vector<std::pair<std::string, at::Tensor*>> parameters();
  std::int64_t numel();
  RecurrentConfig config;
  const layers::BackwardTable* table = &layers::hand_derived();

 private:
  at::Tensor wte_, start_, head_w_, head_b_;
  std::vector<at::Tensor> cell_;         // RNN: W, b; GRU: Wr, br, Wh, bh, Wz, bz
  std::vector<std::string> cell_names_;  // their names, in that order
  // saved by forward
  at::Tensor idx_, targets_, emb_, hidden_, logits_;
  std::vector<layers::CellSaved> saved_;
};

// The names of a recorded step's intermediates ("t3.h"; the GRU's "t3.r", "t3.hprev_reset", "t3.hbar", "t3.z").
std::vector<std::string> step_intermediates(Cell cell);

}  // namespace bpn::models
