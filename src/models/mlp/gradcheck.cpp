#include "models/mlp/gradcheck.h"

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

}  // namespace bpn::verify
