// bpn::gradcheck (include/bpninja/gradcheck.h): every check, in the order the report lists them.
// The finite differences are verify::central_differences (verify/numeric.h), the project's one
// implementation; float32 and the reference are judged by the verdict rule (verify/verdict.h).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/functions/basic_ops.h>
#include <torch/csrc/autograd/variable.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "bpninja/gradcheck.h"
#include "util/errors.h"
#include "util/malloc_tuning.h"
#include "verify/compare.h"
#include "verify/environment.h"
#include "verify/ledger.h"
#include "verify/numeric.h"
#include "verify/verdict.h"

namespace bpn {

namespace {

namespace ag = torch::autograd;

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}
std::string g3(double v) { return fmt("%.3g", v); }
std::string e2(double v) { return fmt("%.2e", v); }

std::vector<std::int64_t> unravel(std::int64_t k, at::IntArrayRef shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::int64_t d = static_cast<std::int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = shape[d] == 0 ? 0 : k % shape[d];
    k = shape[d] == 0 ? 0 : k / shape[d];
  }
  return index;
}

std::string shape_of(const at::Tensor& t) { return verify::shape_string(t.sizes().vec()); }

// ---- The inputs, validated ---------------------------------------------------------------------

struct Inputs {
  Tensors given;
  std::vector<bool> needs_grad;  // requires grad (the function sees it so)
  std::vector<bool> diff;        // requires grad and not listed in non_differentiable: checked
  std::vector<std::string> names;
  at::ScalarType dtype = at::kDouble;  // of the differentiable inputs
};

Inputs validate(const Tensors& inputs, const GradcheckOptions& opt) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("bpn::gradcheck: " + what); };
  if (!(opt.eps > 0) || !std::isfinite(opt.eps)) bad("options.eps must be a positive step (default 1e-6)");
  if (!(opt.atol >= 0) || !(opt.rtol >= 0)) bad("options.atol and options.rtol must be >= 0");
  if (!(opt.nondet_tol >= 0)) bad("options.nondet_tol must be >= 0 (0: two backward runs bit-identical)");
  if (opt.fast_mode_projections < 1) bad("options.fast_mode_projections must be at least 1");
  if (!opt.input_names.empty() && opt.input_names.size() != inputs.size())
    bad("options.input_names has " + std::to_string(opt.input_names.size()) + " names for " +
        std::to_string(inputs.size()) + " inputs: give one name per input, or none");
  if (!opt.ledger_path.empty() && opt.name.empty())
    bad("options.ledger_path needs options.name: the ledger keys its entries by the function's name");
  if (!opt.ledger_path.empty() && !opt.reference)
    bad("options.ledger_path records bit-exactness against options.reference: pass a reference, or leave "
        "ledger_path empty");
  if (opt.record && opt.ledger_path.empty()) bad("options.record writes into options.ledger_path: set it");
  if (inputs.empty()) bad("no inputs: pass the function's tensors, those to check with requires_grad");

  Inputs in;
  in.given = inputs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    in.names.push_back(opt.input_names.empty() ? "input " + std::to_string(i) : opt.input_names[i]);
  }
  for (const std::size_t i : opt.non_differentiable) {
    if (i >= inputs.size())
      bad("options.non_differentiable lists input " + std::to_string(i) + ", but there are only " +
          std::to_string(inputs.size()) + " inputs");
  }
  const std::set<std::size_t> constant(opt.non_differentiable.begin(), opt.non_differentiable.end());
  std::optional<std::size_t> first_diff;
  std::optional<at::Device> device;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor& t = inputs[i];
    const std::string name = in.names[i];
    if (!t.defined()) bad(name + " is an undefined tensor: capture optional arguments in the lambda instead");
    if (device && t.device() != *device)
      bad(name + " is on " + t.device().str() + " but input 0 is on " + device->str() +
          ": move every input to one device");
    device = t.device();
    if (!t.device().is_cpu())
      bad(name + " is on " + t.device().str() + ": bpn::gradcheck perturbs inputs on the CPU; pass .cpu() copies");
    if (!at::isFloatingType(t.scalar_type()) && constant.count(i))
      bad(name + " is an integer tensor (" + std::string(c10::toString(t.scalar_type())) +
          "): it can never require grad, so leave it out of options.non_differentiable");
    in.needs_grad.push_back(t.requires_grad());
    in.diff.push_back(t.requires_grad() && !constant.count(i));
    if (!in.diff.back()) continue;
    if (t.scalar_type() != at::kDouble && t.scalar_type() != at::kFloat)
      bad(name + " requires grad but is " + std::string(c10::toString(t.scalar_type())) +
          ": bpn::gradcheck checks float64, and float32 by the verdict rule; convert it with .to(at::kDouble)");
    for (std::int64_t d = 0; d < t.dim(); ++d) {
      if (t.stride(d) == 0 && t.size(d) > 1)
        bad(name + " has stride 0 in dimension " + std::to_string(d) +
            " (an expanded tensor): perturbing one element would move several; pass .contiguous()");
    }
    if (first_diff && t.scalar_type() != in.dtype)
      bad(name + " is " + std::string(c10::toString(t.scalar_type())) + " but " + in.names[*first_diff] + " is " +
          std::string(c10::toString(in.dtype)) + ": give every differentiable input one dtype");
    if (!first_diff) {
      first_diff = i;
      in.dtype = t.scalar_type();
    }
  }
  if (!first_diff)
    bad("no input requires grad: call .set_requires_grad(true) on the inputs whose gradients you want checked");
  return in;
}

// Fresh leaves with the inputs' values (converted to `dtype` where floating), requiring grad as given.
Tensors leaves(const Inputs& in, std::optional<at::ScalarType> dtype = std::nullopt) {
  Tensors x;
  for (std::size_t i = 0; i < in.given.size(); ++i) {
    at::Tensor t = in.given[i].detach();
    if (dtype && at::isFloatingType(t.scalar_type()) && t.scalar_type() != *dtype) t = t.to(*dtype);
    t = t.clone();
    if (in.needs_grad[i]) t.requires_grad_(true);
    x.push_back(t);
  }
  return x;
}

// ---- One evaluation and its vector-Jacobian products -------------------------------------------

struct Run {
  Tensors out;
  std::vector<std::size_t> diff_out;     // floating, requires grad
  std::vector<std::size_t> nondiff_out;  // floating, no grad: its numerical Jacobian must be zero
};

Run run(const TensorFn& fn, const Tensors& x) {
  Run r;
  r.out = fn(x);
  for (std::size_t o = 0; o < r.out.size(); ++o) {
    const at::Tensor& t = r.out[o];
    if (!t.defined() || !at::isFloatingType(t.scalar_type())) continue;
    (t.requires_grad() ? r.diff_out : r.nondiff_out).push_back(o);
  }
  return r;
}

std::vector<std::size_t> diff_indices(const Inputs& in) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < in.diff.size(); ++i) {
    if (in.diff[i]) idx.push_back(i);
  }
  return idx;
}

// Gradients of the differentiable inputs (undefined where the graph does not reach one) for the
// grad_outputs v (one per output; only the differentiable outputs' are used).
Tensors vjp(const Run& r, const Tensors& x, const std::vector<std::size_t>& ins, const Tensors& v,
            bool create_graph = false) {
  ag::variable_list outs, grads, xs;
  for (const std::size_t o : r.diff_out) {
    outs.push_back(r.out[o]);
    grads.push_back(v[o]);
  }
  for (const std::size_t i : ins) xs.push_back(x[i]);
  if (outs.empty()) return Tensors(ins.size());
  return ag::grad(outs, xs, grads, /*retain_graph=*/true, create_graph, /*allow_unused=*/true);
}

at::Tensor unit_normal(at::IntArrayRef shape, at::ScalarType dtype, at::Generator& gen) {
  at::Tensor t = at::randn(shape, gen, at::TensorOptions(at::kDouble));
  const double norm = t.norm().item<double>();
  if (norm > 0) t = t / norm;
  return t.to(dtype);
}

Tensors random_grad_outputs(const Run& r, at::Generator& gen, bool unit) {
  Tensors v(r.out.size());
  for (const std::size_t o : r.diff_out) {
    const at::Tensor& t = r.out[o];
    v[o] = unit ? unit_normal(t.sizes(), t.scalar_type(), gen)
                : at::randn(t.sizes(), gen, at::TensorOptions(at::kDouble)).to(t.scalar_type());
  }
  return v;
}

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// ---- The check of one function, in one dtype ----------------------------------------------------

struct Check {
  const TensorFn& fn;
  const Inputs& in;
  const GradcheckOptions& opt;
  GradcheckReport& report;
  // gradgradcheck: a second derivative that autograd leaves undefined is zero, and the function calls
  // autograd itself, so its finite differences keep grad mode on
  bool second_order = false;
  std::vector<std::size_t> ins = diff_indices(in);

  void fail(GradcheckFailure f) { report.failures.push_back(std::move(f)); }
  void fail(const std::string& check, const std::string& message, const std::string& input = "") {
    GradcheckFailure f;
    f.check = check;
    f.input = input;
    f.message = message;
    fail(std::move(f));
  }
  void ok(const std::string& line) { report.passed.push_back(line); }

  // Runs `body`; an exception from the user's code is a failure of `check`, never an escape.
  template <class Body>
  bool guarded(const std::string& check, Body&& body) {
    try {
      body();
      return true;
    } catch (const std::invalid_argument&) {
      throw;
    } catch (const std::exception& ex) {
      fail(check, "threw: " + first_line(ex.what()));
      return false;
    }
  }

  std::string out_label(std::size_t o) const { return "output " + std::to_string(o); }

  // ---- Finite differences: slow mode, fast mode ----

  // The outputs, copied; a change of shape or dtype under perturbation is recorded once. No graph is
  // built, except in second order (gradgradcheck's function calls autograd itself).
  Tensors evaluate(Tensors& x, const Run& base, std::size_t perturbed, bool& unstable) {
    std::optional<at::NoGradGuard> no_grad;
    if (!second_order) no_grad.emplace();
    Tensors out = fn(x);
    for (at::Tensor& t : out) {  // a copy: an output may be a view of the perturbed input
      if (t.defined()) t = t.detach().clone();
    }
    if (out.size() != base.out.size()) {
      unstable = true;
      return base.out;
    }
    for (std::size_t o = 0; o < out.size(); ++o) {
      const at::Tensor &a = out[o], &b = base.out[o];
      if (a.defined() != b.defined() ||
          (a.defined() && (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()))) {
        if (!unstable) {
          fail("output shape", out_label(o) + " changes from " + shape_of(b) + " " + c10::toString(b.scalar_type()) +
                                   " to " +
                                   (a.defined() ? shape_of(a) + " " + c10::toString(a.scalar_type()) : "undefined") +
                                   " when " + in.names[perturbed] + " is perturbed by eps");
        }
        unstable = true;
        return base.out;
      }
    }
    return out;
  }

  std::vector<std::size_t> floating_outputs(const Run& r) const {
    std::vector<std::size_t> all = r.diff_out;
    all.insert(all.end(), r.nondiff_out.begin(), r.nondiff_out.end());
    return all;
  }

  // Numerical Jacobians of every floating output with respect to input i: [numel(out), numel(in)].
  std::map<std::size_t, at::Tensor> numerical_jacobian(Tensors& x, const Run& base, std::size_t i, bool& unstable) {
    std::map<std::size_t, std::pair<at::Tensor, at::Tensor>> rows;  // output -> f(x + eps e_k), f(x - eps e_k) by k
    for (const std::size_t o : floating_outputs(base)) {
      const auto options = at::TensorOptions(base.out[o].scalar_type());
      rows[o] = {at::empty({x[i].numel(), base.out[o].numel()}, options),
                 at::empty({x[i].numel(), base.out[o].numel()}, options)};
    }
    verify::central_differences(
        x[i], opt.eps, [&] { return evaluate(x, base, i, unstable); },
        [&](std::int64_t k, const Tensors& plus, const Tensors& minus) {
          for (auto& [o, pm] : rows) {
            pm.first.select(0, k).copy_(plus[o].reshape(-1));
            pm.second.select(0, k).copy_(minus[o].reshape(-1));
          }
        });
    std::map<std::size_t, at::Tensor> jac;
    for (auto& [o, pm] : rows) jac[o] = ((pm.first.to(at::kDouble) - pm.second.to(at::kDouble)) / (2.0 * opt.eps)).t();
    return jac;
  }

  // Analytical Jacobians of differentiable output o: for each input, [numel(out), numel(in)].
  std::map<std::size_t, at::Tensor> analytical_jacobian(const Run& r, const Tensors& x, std::size_t o) {
    std::map<std::size_t, at::Tensor> jac;
    for (const std::size_t i : ins)
      jac[i] = at::zeros({r.out[o].numel(), x[i].numel()}, at::TensorOptions(at::kDouble));
    for (std::int64_t j = 0; j < r.out[o].numel(); ++j) {
      Tensors v(r.out.size());
      for (const std::size_t p : r.diff_out) v[p] = at::zeros_like(r.out[p], at::MemoryFormat::Contiguous);
      v[o].reshape(-1).narrow(0, j, 1).fill_(1.0);
      const Tensors g = vjp(r, x, ins, v);
      for (std::size_t n = 0; n < ins.size(); ++n) {
        if (g[n].defined()) jac[ins[n]].select(0, j).copy_(g[n].detach().to(at::kDouble).reshape(-1));
      }
    }
    return jac;
  }

  // One (output, input) pair, element by element; returns false (and records why) on a mismatch.
  bool compare_pair(const at::Tensor& analytical, const at::Tensor& numerical, const Run& r, const Tensors& x,
                    std::size_t o, std::size_t i, const std::string& check, const std::string& prefix = "") {
    report.compared += numerical.numel();
    if (numerical.numel() == 0) return true;
    const at::Tensor diff = (analytical - numerical).abs();
    const at::Tensor bound = opt.atol + opt.rtol * numerical.abs();
    const at::Tensor bad = (diff > bound).logical_or(at::isnan(diff));
    if (!bad.any().item<bool>()) return true;
    // The worst element: a NaN, else the largest diff / bound.
    const at::Tensor ratio = at::where(at::isnan(diff), at::full_like(diff, std::numeric_limits<double>::infinity()),
                                       diff / bound.clamp_min(std::numeric_limits<double>::min()));
    const std::int64_t flat = ratio.reshape(-1).argmax().item<std::int64_t>();
    const std::int64_t row = flat / numerical.size(1), col = flat % numerical.size(1);
    GradcheckFailure f;
    f.check = check;
    f.output = out_label(o);
    f.input = in.names[i];
    f.output_index = unravel(row, r.out[o].sizes());
    f.input_index = unravel(col, x[i].sizes());
    f.analytical = analytical[row][col].item<double>();
    f.numerical = numerical[row][col].item<double>();
    f.bound = bound[row][col].item<double>();
    f.message = prefix + "d " + f.output + verify::index_string(f.output_index) + " / d " + f.input +
                verify::index_string(f.input_index) + ": analytical " + g3(*f.analytical) + ", numerical " +
                g3(*f.numerical) + ", |diff| " + e2(std::abs(*f.analytical - *f.numerical)) + " > bound " +
                e2(*f.bound) + " (atol " + g3(opt.atol) + " + rtol " + g3(opt.rtol) + " x |numerical|); " +
                std::to_string(bad.sum().item<std::int64_t>()) + " of " + std::to_string(numerical.numel()) +
                " elements of " + shape_of(r.out[o]) + " x " + shape_of(x[i]) + " exceed it";
    fail(std::move(f));
    return false;
  }

  void check_nondifferentiable_output(const at::Tensor& numerical, std::size_t o, std::size_t i) {
    const double worst = numerical.numel() ? numerical.abs().max().item<double>() : 0.0;
    if (!(worst <= opt.atol))
      fail("non-differentiable output",
           out_label(o) + " does not require grad, but its numerical derivative with respect to " + in.names[i] +
               " reaches " + e2(worst) + " (must be 0): mark it differentiable or make it constant",
           in.names[i]);
  }

  void slow_mode(Tensors& x, const Run& r) {
    std::map<std::size_t, std::map<std::size_t, at::Tensor>> numerical;  // input -> output -> J
    for (const std::size_t i : ins) {
      bool unstable = false;
      numerical[i] = numerical_jacobian(x, r, i, unstable);
      if (unstable) return;
    }
    bool all_ok = true;
    for (const std::size_t o : r.diff_out) {
      auto analytical = analytical_jacobian(r, x, o);
      for (const std::size_t i : ins) all_ok &= compare_pair(analytical[i], numerical[i][o], r, x, o, i, "jacobian");
    }
    for (const std::size_t o : r.nondiff_out) {
      for (const std::size_t i : ins) check_nondifferentiable_output(numerical[i][o], o, i);
    }
    if (all_ok && !r.diff_out.empty())
      ok("jacobian: every element within atol " + g3(opt.atol) + " + rtol " + g3(opt.rtol) +
         " x |numerical| of central differences (eps " + g3(opt.eps) + ", slow mode)");
  }

  void fast_mode(Tensors& x, const Run& r, at::Generator& gen) {
    bool all_ok = true;
    std::set<std::pair<std::size_t, std::size_t>> recomputed;
    for (int p = 0; p < opt.fast_mode_projections; ++p) {
      std::map<std::size_t, at::Tensor> u;
      for (const std::size_t i : ins) u[i] = unit_normal(x[i].sizes(), at::kDouble, gen);
      Tensors v(r.out.size());
      for (const std::size_t o : floating_outputs(r)) v[o] = unit_normal(r.out[o].sizes(), at::kDouble, gen);
      // numerical J u, one central difference along u per input
      std::map<std::size_t, std::map<std::size_t, at::Tensor>> ju;  // input -> output -> J u
      for (const std::size_t i : ins) {
        at::Tensor alias = x[i].variable_data();  // no version bump: the graph r saved x[i]
        const at::Tensor original = alias.clone();
        bool unstable = false;
        alias.copy_(original + opt.eps * u[i].to(alias.scalar_type()));
        const Tensors plus = evaluate(x, r, i, unstable);
        alias.copy_(original - opt.eps * u[i].to(alias.scalar_type()));
        const Tensors minus = evaluate(x, r, i, unstable);
        alias.copy_(original);
        if (unstable) return;
        for (const std::size_t o : floating_outputs(r))
          ju[i][o] = (plus[o].to(at::kDouble) - minus[o].to(at::kDouble)) / (2.0 * opt.eps);
      }
      for (const std::size_t o : r.nondiff_out) {
        for (const std::size_t i : ins) {
          const double n = (v[o] * ju[i][o]).sum().item<double>();
          if (!(std::abs(n) <= opt.atol * u[i].abs().sum().item<double>() * v[o].abs().sum().item<double>()))
            check_nondifferentiable_output(ju[i][o], o, i);
        }
      }
      for (const std::size_t o : r.diff_out) {
        Tensors vo(r.out.size());
        for (const std::size_t q : r.diff_out)
          vo[q] = q == o ? v[o].to(r.out[o].scalar_type()) : at::zeros_like(r.out[q]);
        const Tensors g = vjp(r, x, ins, vo);
        for (std::size_t n = 0; n < ins.size(); ++n) {
          const std::size_t i = ins[n];
          report.compared += 1;
          const double numerical = (v[o] * ju[i][o]).sum().item<double>();
          const double analytical = g[n].defined() ? (g[n].detach().to(at::kDouble) * u[i]).sum().item<double>() : 0.0;
          const double bound = opt.atol * u[i].abs().sum().item<double>() * v[o].abs().sum().item<double>() +
                               opt.rtol * (v[o].abs() * ju[i][o].abs()).sum().item<double>();
          if (std::abs(analytical - numerical) <= bound) continue;
          all_ok = false;
          if (!recomputed.insert({o, i}).second) continue;
          // As torch.autograd.gradcheck: the pair again in slow mode, for the worst element.
          bool unstable = false;
          at::Tensor numerical_j = numerical_jacobian(x, r, i, unstable)[o];
          at::Tensor analytical_j = analytical_jacobian(r, x, o)[i];
          const std::string prefix = "v.(J u) " + g3(numerical) + " numerically vs (v^T J).u " + g3(analytical) +
                                     " (|diff| " + e2(std::abs(analytical - numerical)) + " > bound " + e2(bound) +
                                     "); slow mode on this pair: ";
          if (compare_pair(analytical_j, numerical_j, r, x, o, i, "fast mode", prefix)) {
            fail("fast mode",
                 prefix +
                     "every element within tolerance (the projection's bound is too tight here: "
                     "set fast_mode = FastMode::kOff)",
                 in.names[i]);
          }
        }
      }
    }
    if (all_ok && !r.diff_out.empty())
      ok("fast mode: " + std::to_string(opt.fast_mode_projections) +
         " random projection(s) v.(J u) per (output, input) pair within tolerance of central differences (eps " +
         g3(opt.eps) + ")");
  }

  // ---- The other checks ----

  void missing_gradients(const Run& r, const Tensors& x, const Tensors& v) {
    Tensors g;
    if (!guarded("backward", [&] { g = vjp(r, x, ins, v); })) return;
    bool all = true;
    for (std::size_t n = 0; n < ins.size(); ++n) {
      if (g[n].defined() || second_order) continue;
      all = false;
      fail("missing gradient",
           in.names[ins[n]] +
               " requires grad but the backward gives it no gradient (undefined); if that is by design, "
               "list it in options.non_differentiable",
           in.names[ins[n]]);
    }
    if (all && !second_order) ok("every input that requires grad gets a gradient");
  }

  void reentrant(const Run& r, const Tensors& x, const Tensors& v) {
    Tensors a, b;
    if (!guarded("reentrant", [&] {
          a = vjp(r, x, ins, v);
          b = vjp(r, x, ins, v);
        }))
      return;
    bool all = true;
    for (std::size_t n = 0; n < ins.size(); ++n) {
      if (!a[n].defined() || !b[n].defined()) continue;
      const double d = a[n].numel()
                           ? (a[n].detach().to(at::kDouble) - b[n].detach().to(at::kDouble)).abs().max().item<double>()
                           : 0.0;
      const bool same = opt.nondet_tol == 0 ? a[n].equal(b[n]) : d <= opt.nondet_tol;
      if (same) continue;
      all = false;
      const verify::Comparison c = verify::compare(in.names[ins[n]], b[n].detach(), a[n].detach());
      GradcheckFailure f;
      f.check = "reentrant";
      f.input = in.names[ins[n]];
      f.input_index = c.worst_index;
      f.message = "two backward runs with the same grad_outputs differ at " + f.input +
                  verify::index_string(c.worst_index) + ": " + g3(c.reference_at_worst) + " then " +
                  g3(c.manual_at_worst) + " (|diff| " + e2(d) + " > nondet_tol " + g3(opt.nondet_tol) +
                  "): the backward is not reentrant (state kept between calls?)";
      fail(std::move(f));
    }
    if (all)
      ok(opt.nondet_tol == 0 ? "reentrant: two backward runs bit-identical"
                             : "reentrant: two backward runs within nondet_tol " + g3(opt.nondet_tol));
  }

  // The engine casts a gradient to its input's dtype and sums a broadcast one to its shape, silently,
  // so the raw gradients of the custom Functions next to the inputs are captured and checked here.
  struct Capture : ag::FunctionPreHook {
    std::shared_ptr<std::vector<ag::variable_list>> seen = std::make_shared<std::vector<ag::variable_list>>();
    ag::variable_list operator()(const ag::variable_list& grads) override {
      seen->push_back(grads);
      return grads;
    }
  };

  void gradient_types(const Tensors& x, const Tensors& v_template) {
    Run r;
    Tensors v;
    std::vector<std::pair<std::shared_ptr<ag::Node>, std::shared_ptr<std::vector<ag::variable_list>>>> nodes;
    std::vector<ag::Edge> edges;
    if (!guarded("gradient dtype", [&] {
          r = run(fn, x);
          v = v_template;
          for (const std::size_t i : ins) edges.push_back(ag::impl::gradient_edge(x[i]));
          std::unordered_set<ag::Node*> visited;
          std::vector<std::shared_ptr<ag::Node>> stack;
          for (const std::size_t o : r.diff_out) {
            if (r.out[o].grad_fn()) stack.push_back(r.out[o].grad_fn());
          }
          while (!stack.empty()) {
            auto node = stack.back();
            stack.pop_back();
            if (!node || !visited.insert(node.get()).second) continue;
            bool adjacent = false;
            for (const ag::Edge& e : node->next_edges()) {
              for (const ag::Edge& input_edge : edges)
                adjacent |= e.function == input_edge.function && e.input_nr == input_edge.input_nr;
              if (e.function) stack.push_back(e.function);
            }
            if (adjacent && node->name().rfind("torch::autograd::CppNode<", 0) == 0) {
              auto hook = std::make_unique<Capture>();
              nodes.emplace_back(node, hook->seen);
              node->add_pre_hook(std::move(hook));
            }
          }
          vjp(r, x, ins, v);
        }))
      return;
    bool all = true;
    std::size_t checked = 0;
    for (auto& [node, seen] : nodes) {
      if (seen->empty()) continue;
      ag::variable_list raw;
      if (!guarded("gradient dtype",
                   [&, &node = node, &seen = seen] { raw = (*node)(ag::variable_list(seen->front())); }))
        return;
      for (std::size_t e = 0; e < raw.size() && e < node->num_outputs(); ++e) {
        const ag::Edge& edge = node->next_edge(e);
        for (std::size_t n = 0; n < ins.size(); ++n) {
          if (edge.function != edges[n].function || edge.input_nr != edges[n].input_nr || !raw[e].defined()) continue;
          ++checked;
          const at::Tensor& xi = x[ins[n]];
          const std::string who = first_line(node->name());
          if (raw[e].scalar_type() != xi.scalar_type()) {
            all = false;
            fail("gradient dtype",
                 who + " returns a " + std::string(c10::toString(raw[e].scalar_type())) + " gradient for " +
                     in.names[ins[n]] + ", which is " + c10::toString(xi.scalar_type()) +
                     " (autograd casts it silently, losing precision): compute it in the input's dtype",
                 in.names[ins[n]]);
          }
          if (raw[e].sizes() != xi.sizes()) {
            all = false;
            fail("gradient shape",
                 who + " returns a gradient of shape " + shape_of(raw[e]) + " for " + in.names[ins[n]] + ", which is " +
                     shape_of(xi) + " (autograd sums a broadcast one silently): return the input's shape",
                 in.names[ins[n]]);
          }
        }
      }
    }
    if (all)
      ok(checked ? "gradient dtype and shape: the custom Functions' raw gradients match their inputs (" +
                       std::to_string(checked) + " checked)"
                 : "gradient dtype and shape: as autograd delivers them (no custom Function next to an input)");
  }

  void undefined_grads(const Run& r, const Tensors& x) {
    if (!opt.check_undefined_grad) return;
    bool all = true;
    for (const std::size_t o : r.diff_out) {
      Tensors g;
      if (!guarded("undefined grad", [&] {
            auto node = std::make_shared<ag::UndefinedGrad>();
            const at::Tensor y = (*node)({r.out[o]})[0];
            ag::variable_list xs;
            for (const std::size_t i : ins) xs.push_back(x[i]);
            g = ag::grad({y}, xs, {at::ones_like(y)}, /*retain_graph=*/true, /*create_graph=*/false,
                         /*allow_unused=*/true);
          })) {
        report.failures.back().output = out_label(o);
        report.failures.back().message = "backward with an undefined gradient for " + out_label(o) + " " +
                                         report.failures.back().message + " (treat an undefined grad_output as zero)";
        all = false;
        continue;
      }
      for (std::size_t n = 0; n < ins.size(); ++n) {
        if (!g[n].defined() || g[n].numel() == 0 || g[n].abs().max().item<double>() == 0.0) continue;
        all = false;
        fail("undefined grad",
             "with an undefined gradient for " + out_label(o) + " (and none for the others), " + in.names[ins[n]] +
                 " gets a nonzero gradient (max |g| " + e2(g[n].abs().max().item<double>()) +
                 "): it must be zero or undefined",
             in.names[ins[n]]);
      }
    }
    if (all && !r.diff_out.empty()) ok("undefined grad_outputs: no throw, gradients zero or undefined");
  }

  void zero_grads(const Run& r, const Tensors& x) {
    Tensors v(r.out.size()), g;
    for (const std::size_t o : r.diff_out) v[o] = at::zeros_like(r.out[o]);
    if (!guarded("zero grad", [&] { g = vjp(r, x, ins, v); })) return;
    bool all = true;
    for (std::size_t n = 0; n < ins.size(); ++n) {
      if (!g[n].defined() || g[n].numel() == 0) continue;
      const double worst = g[n].detach().abs().max().item<double>();
      if (worst == 0.0) continue;
      all = false;
      fail("zero grad",
           "a zero grad_output gives " + in.names[ins[n]] + " a gradient with max |g| " + e2(worst) +
               " (must be zero: the backward adds a term that does not scale with the grad_output)",
           in.names[ins[n]]);
    }
    if (all) ok("zero grad_outputs give zero gradients");
  }

  static at::Tensor non_contiguous(const at::Tensor& t) {
    if (t.dim() == 0 || t.numel() < 2) return t.detach().clone();
    std::vector<std::int64_t> shape = t.sizes().vec();
    shape.push_back(2);
    at::Tensor big = at::zeros(shape, t.options().requires_grad(false));
    at::Tensor view = big.select(-1, 0);
    view.copy_(t.detach());
    return view;
  }

  void non_contiguous_inputs(const Run& r, const Tensors& x, const Tensors& v) {
    const verify::GradcheckTolerance tol = verify::gradcheck_tolerance(in.dtype);
    Tensors xn, vn(v.size()), g, gn;
    Run rn;
    for (std::size_t i = 0; i < x.size(); ++i) {
      at::Tensor t = at::isFloatingType(x[i].scalar_type()) ? non_contiguous(x[i]) : x[i].detach().clone();
      if (in.needs_grad[i]) t.requires_grad_(true);
      xn.push_back(t);
    }
    for (std::size_t o = 0; o < v.size(); ++o) {
      if (v[o].defined()) vn[o] = non_contiguous(v[o]);
    }
    if (!guarded("non-contiguous", [&] {
          rn = run(fn, xn);
          g = vjp(r, x, ins, v);
          gn = vjp(rn, xn, ins, vn);
        }))
      return;
    auto close = [&](const at::Tensor& a, const at::Tensor& b) {
      if (a.defined() != b.defined()) return false;
      if (!a.defined()) return true;
      if (a.sizes() != b.sizes()) return false;
      const at::Tensor ad = a.detach().to(at::kDouble), bd = b.detach().to(at::kDouble);
      return ((ad - bd).abs() <= tol.atol + tol.rtol * bd.abs()).all().item<bool>();
    };
    bool all = rn.out.size() == r.out.size();
    for (std::size_t o = 0; all && o < r.out.size(); ++o) {
      if (r.out[o].defined() && at::isFloatingType(r.out[o].scalar_type()) && !close(rn.out[o], r.out[o])) {
        all = false;
        fail("non-contiguous", out_label(o) +
                                   " differs when the inputs are non-contiguous: index with strides, "
                                   "or call .contiguous() inside the function");
      }
    }
    for (std::size_t n = 0; all && n < ins.size(); ++n) {
      if (close(gn[n], g[n])) continue;
      all = false;
      fail("non-contiguous",
           "the gradient of " + in.names[ins[n]] +
               " differs when the inputs and grad_outputs are non-contiguous: the backward reads "
               "memory as if contiguous (use .contiguous() or strided access)",
           in.names[ins[n]]);
    }
    if (all)
      ok("non-contiguous inputs and grad_outputs give the same outputs and gradients (atol " + g3(tol.atol) +
         " + rtol " + g3(tol.rtol) + ")");
  }

  // ---- The whole check ----

  // Finite differences (slow or fast) on float64 leaves x.
  void finite_differences(Tensors& x, at::Generator& gen) {
    Run r;
    if (!guarded("forward", [&] { r = run(fn, x); })) return;
    if (r.diff_out.empty() && r.nondiff_out.empty()) {
      fail("outputs", "the function returns no floating-point output: nothing to differentiate");
      return;
    }
    std::int64_t in_elems = 0, out_elems = 0;
    for (const std::size_t i : ins) in_elems += x[i].numel();
    for (const std::size_t o : floating_outputs(r)) out_elems += r.out[o].numel();
    const bool fast = opt.fast_mode == FastMode::kOn ||
                      (opt.fast_mode == FastMode::kAuto && in_elems * out_elems > kSlowModeMaxElements);
    report.title += fast ? ", fast mode" : ", slow mode";
    guarded("jacobian", [&] { fast ? fast_mode(x, r, gen) : slow_mode(x, r); });
  }

  // Missing gradients, reentrancy, dtypes, undefined and zero grads, non-contiguity, on leaves x.
  void structure(const Tensors& x, at::Generator& gen) {
    Run r;
    if (!guarded("forward", [&] { r = run(fn, x); })) return;
    if (r.diff_out.empty()) {
      if (!second_order)
        fail("outputs", "no output requires grad: the inputs that require grad do not reach any output");
      return;
    }
    const Tensors v = random_grad_outputs(r, gen, /*unit=*/false);
    missing_gradients(r, x, v);
    reentrant(r, x, v);
    gradient_types(x, v);
    undefined_grads(r, x);
    zero_grads(r, x);
    non_contiguous_inputs(r, x, v);
  }
};

// ---- Against a reference, and float32 ---------------------------------------------------------

struct Vjps {
  Tensors grads;  // per differentiable input
  bool ok = false;
};

Vjps reference_vjp(const TensorFn& f, const Inputs& in, at::ScalarType dtype, const Tensors& v64, Check& c,
                   const std::string& what) {
  Vjps out;
  c.guarded(what, [&] {
    const Tensors x = leaves(in, dtype);
    const Run r = run(f, x);
    Tensors v(r.out.size());
    for (const std::size_t o : r.diff_out) {
      if (o >= v64.size() || !v64[o].defined())
        throw std::invalid_argument("bpn::gradcheck: the reference's output " + std::to_string(o) +
                                    " requires grad but the function's does not: give both the same outputs");
      v[o] = v64[o].to(r.out[o].scalar_type());
    }
    out.grads = vjp(r, x, c.ins, v);
    out.ok = true;
  });
  return out;
}

void judge_against_reference(Check& c, const Tensors& manual, const Tensors& v64) {
  const GradcheckOptions& opt = c.opt;
  const Vjps r64 = reference_vjp(opt.reference, c.in, at::kDouble, v64, c, "reference (float64)");
  const Vjps r32 = reference_vjp(opt.reference, c.in, at::kFloat, v64, c, "reference (float32)");
  if (!r64.ok || !r32.ok) return;
  const verify::Environment env = verify::current_environment(c.in.dtype, at::kCPU);
  const nlohmann::json config = {{"function", opt.name}};
  std::set<std::string> expected;
  verify::Ledger ledger;
  if (!opt.ledger_path.empty()) {
    try {
      ledger = verify::Ledger::load(opt.ledger_path);
    } catch (const InputError& ex) {
      throw std::invalid_argument(std::string("bpn::gradcheck: ") + ex.what());
    }
    if (const verify::LedgerEntry* e = ledger.find(env, config); e && e->exact.count("gradcheck"))
      expected = e->exact.at("gradcheck");
  }
  std::set<std::string> exact;
  bool all = true;
  for (std::size_t n = 0; n < c.ins.size(); ++n) {
    const std::string name = c.in.names[c.ins[n]];
    if (!manual[n].defined()) continue;  // reported as a missing gradient
    c.report.compared += manual[n].numel();
    verify::Reference ref;
    ref.f64 = r64.grads[n].defined() ? r64.grads[n].detach() : at::zeros_like(manual[n], at::kDouble);
    ref.f32 = r32.grads[n].defined() ? r32.grads[n].detach() : at::zeros_like(manual[n], at::kFloat);
    ref.run = c.in.dtype == at::kDouble ? ref.f64 : ref.f32;
    verify::Row row = verify::make_row(name, manual[n].detach(), ref);
    verify::judge(row, !opt.record && expected.count(name) > 0);
    if (row.cmp.exact) exact.insert(name);
    if (row.pass) continue;
    all = false;
    GradcheckFailure f;
    f.check = "reference";
    f.input = name;
    f.input_index = row.cmp.worst_index;
    f.analytical = row.cmp.manual_at_worst;
    f.reference = row.cmp.reference_at_worst;
    if (row.accuracy.judged) f.bound = row.accuracy.bound;
    f.message = "against autograd through the reference at " + name + verify::index_string(row.cmp.worst_index) +
                ": manual " + g3(row.cmp.manual_at_worst) + ", autograd " + g3(row.cmp.reference_at_worst) +
                " (max ULP " + std::to_string(row.cmp.max_ulp) + "): " + row.note;
    c.fail(std::move(f));
  }
  if (all)
    c.ok("reference: every gradient passes the verdict rule against autograd through the reference (" +
         std::to_string(exact.size()) + " of " + std::to_string(c.ins.size()) + " bit-exact" +
         (expected.empty() ? "" : ", " + std::to_string(expected.size()) + " recorded exact in the ledger") + ")");
  if (opt.record) {
    ledger.record(env, config, "gradcheck", exact);
    ledger.save(opt.ledger_path);
    c.ok("ledger: recorded " + std::to_string(exact.size()) + " bit-exact gradient(s) for " + env.key() + " in " +
         opt.ledger_path);
  }
}

// float32 without a reference: the float32 gradients against the function's own float64 ones (which
// passed the finite differences), bounded by the function's own float32 noise (docs/api.md#float32).
void judge_float32_against_float64(Check& c, const Tensors& x32, const Tensors& manual, const Tensors& v32,
                                   at::Generator& gen) {
  Tensors g64, x64;
  Vjps perturbed[2];
  const bool ran = c.guarded("float32 verdict", [&] {
    x64 = leaves(c.in, at::kDouble);
    const Run r64 = run(c.fn, x64);
    Tensors v64(v32.size());
    for (std::size_t o = 0; o < v32.size(); ++o) {
      if (v32[o].defined()) v64[o] = v32[o].to(at::kDouble);
    }
    g64 = vjp(r64, x64, c.ins, v64);
    for (auto& trial : perturbed) {  // every input and grad_output element one ULP up or down
      auto nudge = [&](const at::Tensor& t) {
        const at::Tensor sign = at::randint(0, 2, t.sizes(), gen, at::TensorOptions(at::kLong)).to(t.scalar_type());
        return at::nextafter(t.detach(), (sign * 2 - 1) * std::numeric_limits<float>::infinity());
      };
      Tensors xt;
      for (std::size_t i = 0; i < x32.size(); ++i) {
        at::Tensor t = c.in.diff[i] ? nudge(x32[i]) : x32[i].detach().clone();
        if (c.in.needs_grad[i]) t.requires_grad_(true);
        xt.push_back(t);
      }
      const Run rt = run(c.fn, xt);
      Tensors vt(v32.size());
      for (std::size_t o = 0; o < v32.size(); ++o) {
        if (v32[o].defined()) vt[o] = nudge(v32[o]);
      }
      trial.grads = vjp(rt, xt, c.ins, vt);
      trial.ok = true;
    }
  });
  if (!ran) return;
  bool all = true;
  std::string summary;
  for (std::size_t n = 0; n < c.ins.size(); ++n) {
    const std::string name = c.in.names[c.ins[n]];
    if (!manual[n].defined() || !g64[n].defined()) continue;
    c.report.compared += manual[n].numel();
    const at::Tensor m = manual[n].detach().to(at::kDouble), ref = g64[n].detach();
    double noise = 0.0;
    for (const auto& trial : perturbed) {
      if (trial.grads[n].defined() && m.numel())
        noise = std::max(noise, (trial.grads[n].detach().to(at::kDouble) - m).abs().max().item<double>());
    }
    const double error = m.numel() ? (m - ref).abs().max().item<double>() : 0.0;
    const double scale = m.numel() ? ref.abs().max().item<double>() : 0.0;
    const double bound = verify::kNoiseFactor * noise + verify::kFloorUlps * verify::kUnitRoundoff32 * scale;
    if (std::isfinite(error) && error <= bound) {
      summary += (summary.empty() ? "" : ", ") + name + " error " + e2(error) + " <= " + e2(bound);
      continue;
    }
    all = false;
    const verify::Comparison cmp = verify::compare(name, manual[n].detach().to(at::kDouble), ref);
    GradcheckFailure f;
    f.check = "float32 verdict";
    f.input = name;
    f.input_index = cmp.worst_index;
    f.analytical = cmp.manual_at_worst;
    f.reference = cmp.reference_at_worst;
    f.bound = bound;
    f.message = "float32 gradient of " + name + verify::index_string(cmp.worst_index) + " is " +
                g3(cmp.manual_at_worst) + ", float64 (checked by central differences) " + g3(cmp.reference_at_worst) +
                ": error " + e2(error) + " > bound " + e2(bound) + " = " + g3(verify::kNoiseFactor) +
                " x own float32 noise " + e2(noise) + " + " + g3(verify::kFloorUlps) + " u32 x scale " + e2(scale);
    c.fail(std::move(f));
  }
  if (all) c.ok("float32 verdict against the float64 gradients: " + summary);
}

// ---- The driver ---------------------------------------------------------------------------------

struct Flags {
  bool second_order = false;
};

GradcheckReport check_once(const TensorFn& fn, const Inputs& in, const GradcheckOptions& opt, const Flags& flags) {
  GradcheckReport report;
  report.title = (opt.name.empty() ? std::string("function") : opt.name) + " (" +
                 (in.dtype == at::kDouble ? "float64" : "float32");
  Check c{fn, in, opt, report, flags.second_order};
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed);

  if (in.dtype == at::kDouble) {
    Tensors x = leaves(in);
    c.finite_differences(x, gen);
    c.structure(x, gen);
    if (opt.reference) {
      Tensors manual, v;
      if (c.guarded("reference", [&] {
            const Run r = run(fn, x);
            v = random_grad_outputs(r, gen, false);
            manual = vjp(r, x, c.ins, v);
          }))
        judge_against_reference(c, manual, v);
    }
  } else {
    const Tensors x32 = leaves(in);
    Tensors x64;
    bool runs64 = false;
    try {
      x64 = leaves(in, at::kDouble);
      const Run r = run(fn, x64);
      runs64 = true;
      for (const std::size_t o : r.diff_out) runs64 &= r.out[o].scalar_type() == at::kDouble;
    } catch (const std::exception&) {
      runs64 = false;
    }
    if (!runs64 && !opt.reference)
      throw std::invalid_argument(
          "bpn::gradcheck: the inputs are float32 and the function does not run in float64 (it threw or returned "
          "float32 outputs for float64 inputs): pass options.reference, the same function in differentiable ATen "
          "ops, to judge its float32 gradients");
    if (runs64) {
      c.finite_differences(x64, gen);
      report.title += "; float64 copies for the finite differences";
    }
    c.structure(x32, gen);
    Tensors manual, v32;
    if (c.guarded("float32 verdict", [&] {
          const Run r = run(fn, x32);
          v32 = random_grad_outputs(r, gen, false);
          manual = vjp(r, x32, c.ins, v32);
        })) {
      if (opt.reference) {
        judge_against_reference(c, manual, v32);
      } else {
        judge_float32_against_float64(c, x32, manual, v32, gen);
      }
    }
  }
  report.title += ")";
  report.pass = report.failures.empty() && report.compared > 0;
  if (report.compared == 0 && report.failures.empty())
    c.fail("compared", "nothing was compared (no differentiable output reaches an input)");
  return report;
}

// ---- Self-test: the catalog's bug classes wrapped around the backward ----------------------------

enum class Bug { kScaled, kSignFlipped, kLastZeroed, kTransposed, kSwapped };

struct BugState {
  Bug bug;
  bool changed = false;  // the mutation altered some gradient (else it is equivalent here)
};

at::Tensor mutate(const at::Tensor& g, BugState& s) {
  if (!g.defined()) return g;
  at::Tensor m;
  switch (s.bug) {
    case Bug::kScaled:
      m = g * (1.0 + 1e-3);
      break;
    case Bug::kSignFlipped:
      m = -g;
      break;
    case Bug::kLastZeroed:
      m = g.contiguous().clone();
      if (m.numel()) m.reshape(-1).narrow(0, m.numel() - 1, 1).zero_();
      break;
    case Bug::kTransposed:
      m = g.t().contiguous();
      break;
    case Bug::kSwapped:
      m = g;
      break;
  }
  if (!m.equal(g)) s.changed = true;
  return m;
}

struct BugGate : ag::Function<BugGate> {
  static at::Tensor forward(ag::AutogradContext* ctx, const at::Tensor& x, std::int64_t state) {
    ctx->saved_data["state"] = state;
    return x.clone();
  }
  static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
    auto* s = reinterpret_cast<BugState*>(ctx->saved_data["state"].toInt());  // NOLINT: lives for the check
    return {mutate(grads[0], *s), at::Tensor()};
  }
};

struct BugSwap : ag::Function<BugSwap> {
  static ag::variable_list forward(ag::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b,
                                   std::int64_t state) {
    ctx->saved_data["state"] = state;
    return {a.clone(), b.clone()};
  }
  static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
    auto* s = reinterpret_cast<BugState*>(ctx->saved_data["state"].toInt());  // NOLINT
    if (!grads[0].equal(grads[1])) s->changed = true;
    return {grads[1], grads[0], at::Tensor()};
  }
};

void self_test(const TensorFn& fn, const Inputs& in, const GradcheckOptions& opt, const Flags& flags,
               GradcheckReport& report) {
  GradcheckOptions quiet = opt;
  quiet.self_test = false;
  quiet.record = false;
  quiet.ledger_path.clear();
  const std::vector<std::size_t> ins = diff_indices(in);
  auto trial = [&](Bug bug, const std::string& label, const std::string& where, std::size_t i, std::size_t j) {
    BugState state{bug};
    const auto handle = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(&state));
    TensorFn mutated = [&fn, bug, i, j, handle](const Tensors& x) {
      Tensors y = x;
      if (bug == Bug::kSwapped) {
        auto pair = BugSwap::apply(x[i], x[j], handle);
        y[i] = pair[0];
        y[j] = pair[1];
      } else {
        y[i] = BugGate::apply(x[i], handle);
      }
      return fn(y);
    };
    const GradcheckReport r = check_once(mutated, in, quiet, flags);
    SelfTestResult result;
    result.bug = label;
    result.input = where;
    result.outcome = !state.changed ? SelfTestResult::Outcome::kEquivalent
                     : r.pass       ? SelfTestResult::Outcome::kMissed
                                    : SelfTestResult::Outcome::kCaught;
    report.self_test.push_back(result);
  };
  for (const std::size_t i : ins) {
    trial(Bug::kScaled, "scaled by 1 + 1e-3", in.names[i], i, i);
    trial(Bug::kSignFlipped, "sign flipped", in.names[i], i, i);
    trial(Bug::kLastZeroed, "last element zeroed", in.names[i], i, i);
    const at::Tensor& t = in.given[i];
    if (t.dim() == 2 && t.size(0) == t.size(1) && t.size(0) > 1)
      trial(Bug::kTransposed, "transposed", in.names[i], i, i);
  }
  for (std::size_t a = 0; a < ins.size(); ++a) {
    for (std::size_t b = a + 1; b < ins.size(); ++b) {
      if (in.given[ins[a]].sizes() == in.given[ins[b]].sizes())
        trial(Bug::kSwapped, "swapped", in.names[ins[a]] + " <-> " + in.names[ins[b]], ins[a], ins[b]);
    }
  }
  std::size_t caught = 0, missed = 0, equivalent = 0;
  for (const auto& s : report.self_test) {
    caught += s.outcome == SelfTestResult::Outcome::kCaught;
    missed += s.outcome == SelfTestResult::Outcome::kMissed;
    equivalent += s.outcome == SelfTestResult::Outcome::kEquivalent;
  }
  const std::string line = "self-test: " + std::to_string(caught) + " bug(s) caught, " + std::to_string(missed) +
                           " missed, " + std::to_string(equivalent) + " equivalent (changed no gradient here)";
  if (missed == 0 && caught > 0) {
    report.passed.push_back(line);
  } else {
    GradcheckFailure f;
    f.check = "self-test";
    f.message = line + (missed ? ": this configuration would not catch them (fast mode: raise "
                                 "fast_mode_projections or use FastMode::kOff; or tighten atol/rtol)"
                               : ": no bug class applied");
    report.failures.push_back(f);
    report.pass = false;
  }
}

GradcheckReport check(const TensorFn& fn, const Tensors& inputs, const GradcheckOptions& opt, const Flags& flags) {
  if (!fn) throw std::invalid_argument("bpn::gradcheck: the function is empty");
  // Thousands of forwards and backwards allocate and free the same blocks: keep them (docs/api.md).
  static const bool tuned = (util::keep_freed_memory_for_reuse(), true);
  (void)tuned;
  const Inputs in = validate(inputs, opt);
  GradcheckReport report = check_once(fn, in, opt, flags);
  if (opt.self_test) self_test(fn, in, opt, flags, report);
  return report;
}

// ---- The pair form: a forward and a hand-derived backward, as one autograd Function -------------

struct Pair {
  TensorFn forward;
  BackwardFn backward;
};

struct PairFunction : ag::Function<PairFunction> {
  static ag::variable_list forward(ag::AutogradContext* ctx, at::TensorList inputs, std::int64_t pair) {
    ctx->saved_data["pair"] = pair;
    ctx->save_for_backward(inputs.vec());
    return reinterpret_cast<const Pair*>(pair)->forward(inputs.vec());  // NOLINT: lives for the check
  }
  static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
    const auto* p = reinterpret_cast<const Pair*>(ctx->saved_data["pair"].toInt());  // NOLINT
    const Tensors in = ctx->get_saved_variables();
    Tensors g = p->backward(grads, in);
    if (g.size() != in.size())
      throw std::runtime_error("the backward returned " + std::to_string(g.size()) + " gradient(s) for " +
                               std::to_string(in.size()) + " inputs: return one per input (undefined for none)");
    g.emplace_back();  // the pair's handle
    return g;
  }
};

}  // namespace

// ---- The API --------------------------------------------------------------------------------------

GradcheckReport gradcheck(const TensorFn& fn, const Tensors& inputs, const GradcheckOptions& options) {
  return check(fn, inputs, options, {});
}

GradcheckReport gradcheck(const TensorFn& forward, const BackwardFn& backward, const Tensors& inputs,
                          const GradcheckOptions& options) {
  if (!forward || !backward) throw std::invalid_argument("bpn::gradcheck: the forward or the backward is empty");
  auto pair = std::make_shared<Pair>(Pair{forward, backward});
  const auto handle = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(pair.get()));
  const TensorFn fn = [pair, handle](const Tensors& in) { return PairFunction::apply(at::TensorList(in), handle); };
  return check(fn, inputs, options, {});
}

GradcheckReport gradgradcheck(const TensorFn& fn, const Tensors& inputs, const Tensors& grad_outputs,
                              const GradcheckOptions& options) {
  if (!fn) throw std::invalid_argument("bpn::gradgradcheck: the function is empty");
  const Inputs in = validate(inputs, options);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed + 1);
  Run r = run(fn, leaves(in));
  Tensors go;
  if (grad_outputs.empty()) {
    for (const std::size_t o : r.diff_out)
      go.push_back(at::randn(r.out[o].sizes(), gen, at::TensorOptions(at::kDouble)).to(r.out[o].scalar_type()));
  } else {
    if (grad_outputs.size() != r.diff_out.size())
      throw std::invalid_argument("bpn::gradgradcheck: " + std::to_string(grad_outputs.size()) + " grad_outputs for " +
                                  std::to_string(r.diff_out.size()) +
                                  " differentiable outputs: give one per output that requires grad");
    for (std::size_t n = 0; n < grad_outputs.size(); ++n) {
      if (grad_outputs[n].sizes() != r.out[r.diff_out[n]].sizes())
        throw std::invalid_argument("bpn::gradgradcheck: grad_output " + std::to_string(n) + " has shape " +
                                    shape_of(grad_outputs[n]) + " but its output has " +
                                    shape_of(r.out[r.diff_out[n]]));
      go.push_back(grad_outputs[n].detach().clone());
    }
  }
  const std::size_t n_inputs = inputs.size();
  auto second = [n_inputs](const TensorFn& f) {
    return TensorFn([f, n_inputs](const Tensors& all) -> Tensors {
      const Tensors x(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_inputs));
      const Tensors v(all.begin() + static_cast<std::ptrdiff_t>(n_inputs), all.end());
      const Run fr = run(f, x);
      ag::variable_list outs, xs;
      for (const std::size_t o : fr.diff_out) outs.push_back(fr.out[o]);
      for (const at::Tensor& t : x) {
        if (t.requires_grad()) xs.push_back(t);
      }
      if (outs.size() != v.size())
        throw std::runtime_error("the function has " + std::to_string(outs.size()) + " differentiable outputs, " +
                                 std::to_string(v.size()) + " grad_outputs");
      ag::variable_list gv(v.begin(), v.end());
      for (std::size_t n = 0; n < gv.size(); ++n) gv[n] = gv[n].to(outs[n].scalar_type());
      return ag::grad(outs, xs, gv, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true);
    });
  };
  Tensors all = inputs;
  for (at::Tensor& t : go) all.push_back(t.to(in.dtype).requires_grad_(true));
  GradcheckOptions opt = options;
  opt.name = (options.name.empty() ? std::string("function") : options.name) + ", second order";
  if (!options.input_names.empty()) {
    for (std::size_t n = 0; n < go.size(); ++n) opt.input_names.push_back("grad_output " + std::to_string(n));
  }
  if (options.reference) opt.reference = second(options.reference);
  Flags flags;
  flags.second_order = true;
  return check(second(fn), all, opt, flags);
}

// ---- The report -------------------------------------------------------------------------------------

std::string GradcheckReport::str() const {
  std::ostringstream os;
  os << "bpn::gradcheck " << title << ": " << (pass ? "PASS" : "FAIL") << "\n";
  for (const auto& f : failures) os << "  FAIL " << f.check << ": " << f.message << "\n";
  for (const auto& p : passed) os << "  ok   " << p << "\n";
  for (const auto& s : self_test) {
    if (s.outcome == SelfTestResult::Outcome::kMissed)
      os << "  self-test missed: " << s.bug << " (" << s.input << ")\n";
  }
  os << "  " << compared << " element(s) compared\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const GradcheckReport& report) { return os << report.str(); }

}  // namespace bpn
