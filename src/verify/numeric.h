// Central differences in float64 for any model, and the per-tensor comparison of a manual and an
// autograd gradient with the numeric one (torch.autograd.gradcheck's criterion, tighter tolerances).
// Part of the installable harness (bpninja::harness). Thresholds: docs/derivations.md#finite-differences.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// the central difference of `loss` for every element of the float64 tensor x, perturbed in place;
at::Tensor central_difference(const std::function<double()>& loss, at::Tensor& x, double eps);
// and one row: manual and autograd against the numeric gradient, with the tolerance's criterion.
GradcheckRow compare_three(const std::string& graph, const std::string& name, const at::Tensor& manual,
                           const at::Tensor& autograd, const at::Tensor& numeric, const GradcheckTolerance& tol);

}  // namespace bpn::verify
