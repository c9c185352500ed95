// `bpninja check --arch rnn|gru`: makemore's recurrent language models (rnn.h), every hidden state
// (and the GRU's gates) of every position and every parameter against autograd, through the generic
// verification (verify/graph.h). Data as the GPT's (data/sequences.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "data/dataset.h"
#include "data/sequences.h"
#include "layers/backward_table.h"
#include "models/rnn/rnn.h"
#include "verify/gradcheck.h"
#include "verify/graph.h"
#include "verify/report.h"

namespace bpn::verify {

struct RecurrentCheckConfig {
  models::RecurrentConfig model;  // vocab and block size come from the data
  std::int64_t batch_size = 32;
  at::ScalarType dtype = at::kFloat;
  const layers::BackwardTable* table = &layers::hand_derived();
};

CheckReport run_recurrent_check(const data::Dataset& data, const RecurrentCheckConfig& config);
// The rounding scales of the bias gradients (sums over every row of every position) for compare_graph;
// check and train --verify-every both judge with them.
NoiseScales recurrent_noise_scales(models::Cell cell);
// The check's graph (the same weights and batch) for compare_graph and `bpninja graph`.
GraphFactory recurrent_graph_factory(const data::Dataset& data, const RecurrentCheckConfig& config);
// Central differences in float64 for every parameter element (keep the model small).
GradcheckReport run_recurrent_gradcheck(const data::Dataset& data, const RecurrentCheckConfig& config);
std::map<std::string, std::set<std::string>> recurrent_known_rows(const nlohmann::json& config);

}  // namespace bpn::verify
