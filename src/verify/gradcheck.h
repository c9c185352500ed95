// Three-way verification's report, whatever the model: every hand-derived gradient, autograd's, and
// central finite differences in float64 (each model's gradcheck fills it; models/model.h).
//
// Numeric gradient of the loss L with respect to element k of a tensor X (a parameter or an
// intermediate: the forward is rerun from the perturbed intermediate through a ForwardHook):
//     (L(X + eps e_k) - L(X - eps e_k)) / (2 eps),   eps = 1e-6, all in float64.
// An element passes when |g - numeric| <= atol + rtol * |numeric| (torch.autograd.gradcheck's
// criterion). Thresholds and their justification: docs/derivations.md#finite-differences.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "verify/environment.h"
#include "verify/graph.h"
#include "verify/numeric.h"

namespace bpn::verify {

struct GradcheckReport {
  Environment env;
  GradcheckTolerance tolerance{};
  std::vector<GradcheckRow> rows;
  bool pass = false;
  nlohmann::json to_json() const;
};

std::string format_gradcheck(const GradcheckReport& report);

// Central differences in float64 for every element of every parameter of the graph `make` builds,
// against its manual and autograd gradients in `dtype` (rows named `graph`); the float64 run's
// `forward` recomputes the loss after each perturbation. The sequence models' gradcheck: their
// intermediates are checked against autograd by `check` and here through the parameters they feed.
GradcheckReport parameter_gradcheck(const std::string& graph, const GraphFactory& make, at::ScalarType dtype);

}  // namespace bpn::verify
