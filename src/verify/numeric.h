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

// The project's one implementation of central differences (bpninja gradcheck, bpn::gradcheck): for
// each element k of the float64 CPU tensor x in row-major order (any strides), sets it to x_k + eps,
// calls f, sets it to x_k - eps, calls f, restores x_k bit for bit and calls
// visit(k, f(x + eps e_k), f(x - eps e_k)). Writes through the data pointer: no version-counter bump,
// so graphs that saved x stay usable once it is restored.
template <class F, class Visit>
void central_differences(at::Tensor& x, double eps, F&& f, Visit&& visit) {
  double* base = x.data_ptr<double>();
  const auto sizes = x.sizes();
  const auto strides = x.strides();
  const std::int64_t n = x.numel();
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t offset = 0, rest = k;
    for (std::int64_t d = x.dim() - 1; d >= 0; --d) {
      offset += (rest % sizes[d]) * strides[d];
      rest /= sizes[d];
    }
    double* p = base + offset;
    const double original = *p;
    *p = original + eps;
    auto plus = f();
    *p = original - eps;
    auto minus = f();
    *p = original;
    visit(k, plus, minus);
  }
}

// the central difference of a scalar `loss` for every element of the float64 tensor x, perturbed in place;
at::Tensor central_difference(const std::function<double()>& loss, at::Tensor& x, double eps);
// and one row: manual and autograd against the numeric gradient, with the tolerance's criterion.
GradcheckRow compare_three(const std::string& graph, const std::string& name, const at::Tensor& manual,
                           const at::Tensor& autograd, const at::Tensor& numeric, const GradcheckTolerance& tol);

}  // namespace bpn::verify
