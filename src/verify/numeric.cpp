#include "verify/numeric.h"

#include <cmath>

namespace bpn::verify {

GradcheckTolerance gradcheck_tolerance(at::ScalarType dtype) {
  // See docs/derivations.md#finite-differences for the error budget behind these numbers.
  if (dtype == at::kDouble) return {1e-6, 1e-8, 1e-5};
  return {1e-6, 1e-6, 1e-4};
}

at::Tensor central_difference(const std::function<double()>& loss, at::Tensor& x, double eps) {
  at::Tensor grad = at::zeros(x.sizes(), x.options().requires_grad(false));
  double* g = grad.data_ptr<double>();
  central_differences(x, eps, loss,
                      [&](std::int64_t k, double plus, double minus) { g[k] = (plus - minus) / (2.0 * eps); });
  return grad;
}

GradcheckRow compare_three(const std::string& graph, const std::string& name, const at::Tensor& manual,
                           const at::Tensor& autograd, const at::Tensor& numeric, const GradcheckTolerance& tol) {
  GradcheckRow row;
  row.graph = graph;
  row.name = name;
  row.shape = numeric.sizes().vec();
  const at::Tensor n = numeric.to(at::kDouble);
  row.numeric_max = n.abs().max().item<double>();
  auto measure = [&](const at::Tensor& g, double& abs_err, double& rel_err, bool& pass) {
    if (!g.defined() || g.sizes() != numeric.sizes()) {
      abs_err = rel_err = std::nan("");
      pass = false;
      return;
    }
    const at::Tensor diff = (g.detach().to(at::kCPU).to(at::kDouble) - n).abs();
    abs_err = diff.max().item<double>();
    // Normwise; undefined (NaN, printed "-") for a gradient that is zero at the tolerance's scale.
    rel_err = row.numeric_max >= tol.atol ? abs_err / row.numeric_max : std::nan("");
    pass = (diff <= tol.atol + tol.rtol * n.abs()).all().item<bool>();
  };
  measure(manual, row.manual_abs, row.manual_rel, row.manual_pass);
  measure(autograd, row.autograd_abs, row.autograd_rel, row.autograd_pass);
  return row;
}

}  // namespace bpn::verify
