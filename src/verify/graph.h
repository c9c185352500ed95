// Generic verification of any model with a hand-derived backward. A model provides two things:
//   - a forward, in a given dtype, that records named intermediates and returns the loss, with its
//     parameters as autograd leaves;
//   - a manual backward that returns a gradient for every recorded intermediate and parameter (one it
//     leaves out, or returns undefined, is a FAIL row named "missing").
// Everything else is here, once: the autograd reference (in the run's dtype, float32 and float64),
// one judged row per tensor by the verdict rule (verify/verdict.h), ready for the ledger. The MLP's
// Exercise 1 and the WaveNet both go through compare_graph.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "verify/verdict.h"

namespace bpn::verify {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct GraphRun {
  NamedTensors intermediates;  // in the autograd graph; compare_graph calls retain_grad on them
  NamedTensors parameters;     // leaves that require grad
  at::Tensor loss;
  // The hand-derived gradients, in the order the table should show them. Called without autograd.
  std::function<NamedTensors()> manual_backward;
  // The loss again from the parameters as they are now (for central differences; optional).
  std::function<at::Tensor()> forward;
};

// Builds the model's forward in `dtype` from the same parameters (and batch) every time it is called.
using GraphFactory = std::function<GraphRun(at::ScalarType dtype)>;

// judge_accuracy's noise scales, from the float64 run and its autograd gradients (optional).
using NoiseScales = std::function<std::map<std::string, double>(const GraphRun& run64,
                                                                const std::map<std::string, at::Tensor>& grad64)>;

struct GraphComparison {
  std::vector<Row> rows;  // not yet judged (judge() applies the ledger)
  double loss = 0.0;      // the run dtype's loss
};

GraphComparison compare_graph(const GraphFactory& make, at::ScalarType dtype, const NoiseScales& noise = {});

}  // namespace bpn::verify
