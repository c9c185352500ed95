// `bpninja check --arch gpt`: makemore's Transformer (models/gpt.h), every recorded intermediate of
// every block and every parameter against autograd, through the generic verification.
// Data as makemore's CharDataset: each word of the notebook's training split is one sequence,
// input [0] + encode(word) padded with 0 to L = longest word + 1, target encode(word) + [0] then -1.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "data/dataset.h"
#include "data/sequences.h"
#include "layers/backward_table.h"
#include "models/gpt/gpt.h"
#include "verify/gradcheck.h"
#include "verify/graph.h"
#include "verify/report.h"

namespace bpn::verify {

struct GPTCheckConfig {
  models::GPTConfig model;  // vocab and block size come from the data
  std::int64_t batch_size = 32;
  at::ScalarType dtype = at::kFloat;
  const layers::BackwardTable* table = &layers::hand_derived();
};

// The sequences of data/sequences.h, as this folder's code names them.
using data::sequence_length;
using data::Sequences;
using data::word_sequences;

CheckReport run_gpt_check(const data::Dataset& data, const GPTCheckConfig& config);
// The rounding scales of the GPT's bias gradients (sums over the rows) for compare_graph; check and
// train --verify-every both judge with them.
NoiseScales gpt_noise_scales(std::int64_t n_embd);
// The check's graph (the same weights and batch) for compare_graph and `bpninja graph`.
GraphFactory gpt_graph_factory(const data::Dataset& data, const GPTCheckConfig& config);
GradcheckReport run_gpt_gradcheck(const data::Dataset& data, const GPTCheckConfig& config);
std::map<std::string, std::set<std::string>> gpt_known_rows(const nlohmann::json& config);

}  // namespace bpn::verify
