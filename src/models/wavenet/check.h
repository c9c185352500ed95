// `bpninja check --arch wavenet`: the WaveNet of makemore part 5 (models/wavenet.h), every layer
// output and every parameter against autograd, through the generic verification (verify/graph.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "data/dataset.h"
#include "layers/backward_table.h"
#include "models/wavenet/wavenet.h"
#include "verify/gradcheck.h"
#include "verify/graph.h"
#include "verify/report.h"

namespace bpn::verify {

struct WaveNetCheckConfig {
  models::WaveNetConfig model;  // vocab and block size are the data set's
  std::int64_t batch_size = 32;
  at::ScalarType dtype = at::kFloat;
  const layers::BackwardTable* table = &layers::hand_derived();
};

// The lecture's setup: g = Generator(seed) draws the parameters, then the batch (its next draws).
// The report has one exercise (number 1) and the config {"arch": "wavenet", ...} as its ledger key.
CheckReport run_wavenet_check(const data::Dataset& data, const WaveNetCheckConfig& config);

// The check's graph (the same parameters and batch) for compare_graph and `bpninja graph`.
GraphFactory wavenet_graph_factory(const data::Dataset& data, const WaveNetCheckConfig& config);

// Central differences in float64 for every element of every parameter and every layer output of the
// WaveNet, against the manual and the autograd gradients (in config.dtype). Keep the model small:
// each element costs two forward passes.
GradcheckReport run_wavenet_gradcheck(const data::Dataset& data, const WaveNetCheckConfig& config);

// "exercise1" -> every output and parameter name of the WaveNet a ledger config describes.
std::map<std::string, std::set<std::string>> wavenet_known_rows(const nlohmann::json& config);

}  // namespace bpn::verify
