#include "verify/gradcheck.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace bpn::verify {

nlohmann::json GradcheckReport::to_json() const {
  nlohmann::json rows_json = nlohmann::json::array();
  for (const auto& r : rows) {
    rows_json.push_back({{"graph", r.graph},
                         {"name", r.name},
                         {"shape", r.shape},
                         {"numeric_max", r.numeric_max},
                         {"manual_max_abs_err", r.manual_abs},
                         {"manual_max_rel_err", r.manual_rel},
                         {"autograd_max_abs_err", r.autograd_abs},
                         {"autograd_max_rel_err", r.autograd_rel},
                         {"manual_pass", r.manual_pass},
                         {"autograd_pass", r.autograd_pass}});
  }
  return {{"dtype", env.dtype},     {"device", env.device}, {"eps", tolerance.eps}, {"atol", tolerance.atol},
          {"rtol", tolerance.rtol}, {"rows", rows_json},    {"pass", pass}};
}

std::string format_gradcheck(const GradcheckReport& r) {
  std::ostringstream os;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "gradcheck: %s gradients vs central differences in float64 (eps %g); pass: |g - num| <= %g + %g*|num|\n",
      r.env.dtype.c_str(), r.tolerance.eps, r.tolerance.atol, r.tolerance.rtol);
  os << line;
  std::string graph;
  for (const auto& row : r.rows) {
    if (row.graph != graph) {
      graph = row.graph;
      os << "\n"
         << (graph == "chunked" ? "chunked graph (Exercise 1)"
             : graph == "fused" ? "fused graph (Exercises 2-4)"
                                : graph)
         << "\n";
      std::snprintf(line, sizeof line, "%-20s | %-10s | %-11s | %-11s | %-11s | %-11s | %s\n", "name", "max|num|",
                    "manual abs", "manual rel", "autograd abs", "autograd rel", "result");
      os << line;
    }
    auto rel = [](double v) {
      char buf[32];
      if (std::isnan(v)) return std::string("-");
      std::snprintf(buf, sizeof buf, "%.3e", v);
      return std::string(buf);
    };
    std::snprintf(line, sizeof line, "%-20s | %10.3e | %11.3e | %11s | %11.3e  | %11s | %s\n", row.name.c_str(),
                  row.numeric_max, row.manual_abs, rel(row.manual_rel).c_str(), row.autograd_abs,
                  rel(row.autograd_rel).c_str(),
                  row.manual_pass && row.autograd_pass ? "ok"
                  : !row.manual_pass                   ? "FAIL (manual)"
                                                       : "FAIL (autograd)");
    os << line;
  }
  // Each element costs two forward passes: the count says what the run did.
  std::map<std::string, std::int64_t> perturbed;
  std::int64_t total = 0;
  for (const auto& row : r.rows) {
    std::int64_t n = 1;
    for (const std::int64_t d : row.shape) n *= d;
    perturbed[row.graph] += n;
    total += n;
  }
  os << "\nperturbed elements: " << total;
  if (perturbed.size() > 1) {
    const char* sep = " (";
    for (const auto& [graph, n] : perturbed) {
      os << sep << graph << " " << n;
      sep = " + ";
    }
    os << ")";
  }
  os << "\n" << (r.pass ? "PASS" : "FAIL") << ": every gradient within tolerance of the numeric one\n";
  return os.str();
}

GradcheckReport parameter_gradcheck(const std::string& graph, const GraphFactory& make, at::ScalarType dtype) {
  GradcheckReport report;
  report.env = current_environment(dtype, at::kCPU);
  report.tolerance = gradcheck_tolerance(dtype);
  std::map<std::string, at::Tensor> autograd;
  std::vector<std::pair<std::string, at::Tensor>> manual;
  {
    at::AutoGradMode grad_on(true);
    GraphRun run = make(dtype);
    run.loss.backward();
    for (auto& [name, t] : run.parameters) autograd[name] = t.grad();
    at::NoGradGuard no_grad;
    manual = run.manual_backward();
  }
  at::NoGradGuard no_grad;
  GraphRun run64 = make(at::kDouble);
  std::map<std::string, at::Tensor> params;
  for (auto& [name, t] : run64.parameters) params[name] = t;
  for (const auto& [name, dmanual] : manual) {
    const auto it = params.find(name);
    if (it == params.end()) continue;
    const at::Tensor numeric =
        central_difference([&] { return run64.forward().item<double>(); }, it->second, report.tolerance.eps);
    report.rows.push_back(compare_three(graph, name, dmanual, autograd.at(name), numeric, report.tolerance));
  }
  report.pass = !report.rows.empty();
  for (const auto& r : report.rows) report.pass = report.pass && r.manual_pass && r.autograd_pass;
  return report;
}

}  // namespace bpn::verify
