#include "verify/graph.h"

#include <ATen/core/grad_mode.h>

#include <set>

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
  auto row_of = [&](const std::string& name, const at::Tensor& m) {
    const auto it = scales.find(name);
    return make_row(
        name, m,
        Reference{grad_of(run, name), grad_of(e32, name), grad_of(e64, name), it == scales.end() ? 0.0 : it->second});
  };
  std::set<std::string> returned;
  for (const auto& [name, m] : manual) {
    returned.insert(name);
    Row row = row_of(name, m);
    if (!m.defined()) row.cmp.problem = "missing: the manual backward returned an undefined gradient for " + name;
    out.rows.push_back(std::move(row));
  }
  // Every recorded intermediate and every parameter must have a manual gradient: one the manual
  // backward left out is a FAIL row, never a row that is not there (an empty table is no pass).
  for (const NamedTensors* graph : {&run.run.intermediates, &run.run.parameters}) {
    for (const auto& [name, t] : *graph) {
      if (returned.count(name)) continue;
      returned.insert(name);
      Row row = row_of(name, at::Tensor());
      row.cmp.problem = "missing: the manual backward returned no gradient for " + name;
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace bpn::verify
