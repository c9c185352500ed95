#include "verify/graph.h"

#include <ATen/core/grad_mode.h>

namespace bpn::verify {

namespace {
struct Evaluated {
  GraphRun run;
  std::map<std::string, at::Tensor> grad;
};

Evaluated evaluate(const GraphFactory& make, at::ScalarType dtype) {
  at::AutoGradMode grad_on(true);
  Evaluated e{make(dtype), {}};
  for (auto& [name, t] : e.run.intermediates) t.retain_grad();
  e.run.loss.backward();
  for (const auto& [name, t] : e.run.intermediates) e.grad[name] = t.grad();
  for (const auto& [name, t] : e.run.parameters) e.grad[name] = t.grad();
  return e;
}
}  // namespace

GraphComparison compare_graph(const GraphFactory& make, at::ScalarType dtype, const NoiseScales& noise) {
  const at::ScalarType other_dtype = dtype == at::kDouble ? at::kFloat : at::kDouble;
  const Evaluated run = evaluate(make, dtype);
  const Evaluated other = evaluate(make, other_dtype);
  const Evaluated& e32 = dtype == at::kFloat ? run : other;
  const Evaluated& e64 = dtype == at::kDouble ? run : other;
  const std::map<std::string, double> scales = noise ? noise(e64.run, e64.grad) : std::map<std::string, double>{};
  NamedTensors manual;
  {
    at::NoGradGuard no_grad;
    manual = run.run.manual_backward();
  }
  GraphComparison out;
  out.loss = run.run.loss.item<double>();
  auto grad_of = [](const Evaluated& e, const std::string& name) {
    const auto it = e.grad.find(name);
    return it == e.grad.end() ? at::Tensor() : it->second;
  };
  for (const auto& [name, m] : manual) {
    const auto it = scales.find(name);
    out.rows.push_back(make_row(
        name, m,
        Reference{grad_of(run, name), grad_of(e32, name), grad_of(e64, name), it == scales.end() ? 0.0 : it->second}));
  }
  return out;
}

}  // namespace bpn::verify
