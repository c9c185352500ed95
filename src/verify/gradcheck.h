// Three-way verification: every hand-derived gradient, autograd's, and central finite differences
// in float64, for both the chunked graph (Exercise 1) and the fused one (Exercises 2-4).
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

#include "data/dataset.h"
#include "verify/check.h"

namespace bpn::verify {

struct GradcheckTolerance {
  double eps;   // the central-difference step (float64)
  double atol;  // per-element absolute tolerance
  double rtol;  // per-element relative tolerance
};
// float64 gradients against the float64 numeric ones, and float32 gradients against them.
GradcheckTolerance gradcheck_tolerance(at::ScalarType dtype);

struct GradcheckRow {
  std::string graph;  // "chunked" or "fused"
  std::string name;
  std::vector<std::int64_t> shape;
  double numeric_max = 0.0;   // max |numeric|: the scale of the gradient
  double manual_abs = 0.0;    // max |manual - numeric|
  double manual_rel = 0.0;    // manual_abs / numeric_max (normwise relative error)
  double autograd_abs = 0.0;  // max |autograd - numeric|
  double autograd_rel = 0.0;
  bool manual_pass = false;
  bool autograd_pass = false;
};

struct GradcheckReport {
  Environment env;
  GradcheckTolerance tolerance{};
  std::vector<GradcheckRow> rows;
  bool pass = false;
  nlohmann::json to_json() const;
};

GradcheckReport run_gradcheck(const data::Dataset& data, const CheckConfig& config);

// The building blocks, for any model (verify/wavenet_check.cpp uses them):
// the central difference of `loss` for every element of the float64 tensor x, perturbed in place;
at::Tensor central_difference(const std::function<double()>& loss, at::Tensor& x, double eps);
// and one row: manual and autograd against the numeric gradient, with the tolerance's criterion.
GradcheckRow compare_three(const std::string& graph, const std::string& name, const at::Tensor& manual,
                           const at::Tensor& autograd, const at::Tensor& numeric, const GradcheckTolerance& tol);
std::string format_gradcheck(const GradcheckReport& report);

}  // namespace bpn::verify
