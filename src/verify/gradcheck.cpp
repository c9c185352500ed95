#include "verify/gradcheck.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "models/mlp/backward.h"
#include "models/mlp/backward_table.h"
#include "models/mlp/forward.h"
#include "models/mlp/params.h"
#include "util/errors.h"

namespace bpn::verify {

namespace {

using LossFn = std::function<double(const model::Params&, const model::ForwardHook&)>;

// Central differences for every element of `base`, which is either a parameter of `params`
// (is_param) or the intermediate `name`, replaced through the hook.
at::Tensor numeric_gradient(const LossFn& loss, const model::Params& params, const std::string& name,
                            const at::Tensor& base, bool is_param, double eps) {
  at::Tensor perturbed = base.detach().to(at::kDouble).contiguous().clone();
  model::Params p = params;  // shallow: only the perturbed parameter is swapped
  model::ForwardHook hook;
  if (is_param) {
    for (auto& [pname, t] : p.named()) {
      if (pname == name) *t = perturbed;
    }
  } else {
    hook = [&](const std::string& step, at::Tensor& value) {
      if (step == name) value = perturbed.view(value.sizes());
    };
  }
  return central_difference([&] { return loss(p, hook); }, perturbed, eps);
}

}  // namespace

namespace {
// For each named manual gradient: the numeric gradient of `loss` in float64 with respect to the
// parameter of that name, or else to the intermediate of that name (its float64 value in
// `intermediates`), compared three ways.
void check_graph(const std::string& graph, const std::vector<std::pair<std::string, at::Tensor>>& manual,
                 const std::map<std::string, at::Tensor>& autograd, const LossFn& loss, const model::Params& p64,
                 const std::map<std::string, at::Tensor>& intermediates, const GradcheckTolerance& tol,
                 std::vector<GradcheckRow>& rows) {
  for (const auto& [name, dmanual] : manual) {
    const at::Tensor* param = nullptr;
    for (const auto& [pname, t] : p64.named()) {
      if (pname == name) param = t;
    }
    const at::Tensor value = param ? *param : intermediates.at(name);
    const at::Tensor numeric = numeric_gradient(loss, p64, name, value, param != nullptr, tol.eps);
    rows.push_back(compare_three(graph, name, dmanual, autograd.at(name), numeric, tol));
  }
}

model::Params fresh_leaves(const model::Params& params) {
  model::Params p = params;
  for (auto& [name, t] : p.named()) *t = t->detach().clone().set_requires_grad(true);
  return p;
}
}  // namespace

GradcheckReport run_gradcheck(const data::Dataset& data, const CheckConfig& cfg) {
  const auto [params, batch] = make_experiment(data, cfg);
  const at::Tensor Xcpu = batch.Xb.to(at::kCPU), Ycpu = batch.Yb.to(at::kCPU);
  GradcheckReport report;
  report.env = current_environment(cfg.dtype, cfg.device);
  report.tolerance = gradcheck_tolerance(cfg.dtype);
  model::Params p64 = params.to(at::kDouble);
  for (auto& [name, t] : p64.named()) *t = t->to(at::kCPU);  // perturbed element by element

  {  // The chunked graph: 19 intermediates + 7 parameters.
    model::Params p = fresh_leaves(params);
    model::ChunkedForward f = model::chunked_forward(p, batch.Xb, batch.Yb);
    for (auto& [name, t] : f.intermediates()) t.retain_grad();
    f.loss.backward();
    std::map<std::string, at::Tensor> autograd;
    for (const auto& [name, t] : f.intermediates()) autograd[name] = t.grad();
    for (const auto& [name, t] : p.named()) autograd[name] = t->grad();
    const auto manual = model::chunked_backward(p, f, batch.Xb, batch.Yb, *cfg.table).named();

    at::NoGradGuard no_grad;
    const LossFn loss = [&](const model::Params& q, const model::ForwardHook& hook) {
      return model::chunked_forward(q, Xcpu, Ycpu, hook).loss.item<double>();
    };
    std::map<std::string, at::Tensor> values;
    for (const auto& [name, t] : model::chunked_forward(p64, Xcpu, Ycpu).intermediates()) values[name] = t;
    check_graph("chunked", manual, autograd, loss, p64, values, report.tolerance, report.rows);
  }
  {  // The fused graph (cross_entropy and BatchNorm in one go): 6 intermediates + 7 parameters.
    model::Params p = fresh_leaves(params);
    model::FusedForward f = model::fused_forward(p, batch.Xb, batch.Yb);
    for (at::Tensor* t : {&f.logits, &f.h, &f.bn.hpreact, &f.hprebn, &f.embcat, &f.emb}) t->retain_grad();
    f.loss.backward();
    std::map<std::string, at::Tensor> autograd = {{"logits", f.logits.grad()},      {"h", f.h.grad()},
                                                  {"hpreact", f.bn.hpreact.grad()}, {"hprebn", f.hprebn.grad()},
                                                  {"embcat", f.embcat.grad()},      {"emb", f.emb.grad()}};
    for (const auto& [name, t] : p.named()) autograd[name] = t->grad();
    const auto manual = model::fused_backward(p, f, batch.Xb, batch.Yb, model::Variance::kUnbiased, *cfg.table).named();

    at::NoGradGuard no_grad;
    const LossFn loss = [&](const model::Params& q, const model::ForwardHook& hook) {
      return model::fused_forward(q, Xcpu, Ycpu, model::Variance::kUnbiased, hook).loss.item<double>();
    };
    const model::FusedForward base = model::fused_forward(p64, Xcpu, Ycpu);
    const std::map<std::string, at::Tensor> values = {{"logits", base.logits},      {"h", base.h},
                                                      {"hpreact", base.bn.hpreact}, {"hprebn", base.hprebn},
                                                      {"embcat", base.embcat},      {"emb", base.emb}};
    check_graph("fused", manual, autograd, loss, p64, values, report.tolerance, report.rows);
  }

  report.pass = true;
  for (const auto& r : report.rows) report.pass = report.pass && r.manual_pass && r.autograd_pass;
  return report;
}

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

}  // namespace bpn::verify
