// bpn::gradcheck: prove a hand-written backward (a torch::autograd::Function<T>, or a forward/backward
// pair) against central differences, element by element, in one call. LibTorch has no gradcheck;
// this is torch.autograd.gradcheck's set of checks in C++, plus what it lacks: float32 judged without
// false FAIL, the worst element named, a reference forward with bit-exactness, no missing gradient,
// and a self-test of the check's own sensitivity. Guide and the table against PyTorch: docs/api.md.
//
//   auto fn = [](const bpn::Tensors& in) { return Attention::apply(in[0], in[1], in[2]); };
//   EXPECT_GRADCHECK(fn, {q, k, v});          // <bpninja/gtest.h>; or: if (!bpn::gradcheck(fn, {q, k, v})) ...
//
// The rule, per (output, input) pair, in float64 (torch.autograd.gradcheck's, tighter by default):
//   |analytical - numerical| <= atol + rtol * |numerical|, numerical = (f(x + eps) - f(x - eps)) / (2 eps)
// Slow mode compares every Jacobian element; fast mode compares v . (J u) with (v^T J) . u for random
// unit u, v, and recomputes the pair in slow mode on a mismatch to name the worst element. Auto picks
// slow mode while the Jacobian has at most kSlowModeMaxElements elements.
// float32 is judged by the project's verdict rule against float64: docs/api.md#float32.
// A mismatch never throws: it is a failed report. Bad use throws std::invalid_argument.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace bpn {

using Tensors = std::vector<at::Tensor>;

// A function of the inputs that returns one tensor or several: any callable taking
// const Tensors& and returning at::Tensor or Tensors converts to it.
class TensorFn {
 public:
  TensorFn() = default;
  template <class F,
            std::enable_if_t<std::is_invocable_v<F&, const Tensors&> && !std::is_same_v<std::decay_t<F>, TensorFn>,
                             int> = 0>
  TensorFn(F f)  // NOLINT(google-explicit-constructor): lambdas convert
      : fn_([f = std::move(f)](const Tensors& in) mutable -> Tensors {
          if constexpr (std::is_convertible_v<std::invoke_result_t<F&, const Tensors&>, at::Tensor>) {
            return {at::Tensor(f(in))};
          } else {
            return Tensors(f(in));
          }
        }) {}
  Tensors operator()(const Tensors& in) const { return fn_(in); }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  std::function<Tensors(const Tensors&)> fn_;
};

// A hand-derived backward: (grad_outputs, inputs) -> one gradient per input (undefined where none).
// A callable returning one at::Tensor (a function of one input) converts too.
class BackwardFn {
 public:
  BackwardFn() = default;
  template <class F, std::enable_if_t<std::is_invocable_v<F&, const Tensors&, const Tensors&> &&
                                          !std::is_same_v<std::decay_t<F>, BackwardFn>,
                                      int> = 0>
  BackwardFn(F f)  // NOLINT(google-explicit-constructor)
      : fn_([f = std::move(f)](const Tensors& grads, const Tensors& in) mutable -> Tensors {
          if constexpr (std::is_convertible_v<std::invoke_result_t<F&, const Tensors&, const Tensors&>, at::Tensor>) {
            return {at::Tensor(f(grads, in))};
          } else {
            return Tensors(f(grads, in));
          }
        }) {}
  Tensors operator()(const Tensors& grads, const Tensors& in) const { return fn_(grads, in); }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  std::function<Tensors(const Tensors&, const Tensors&)> fn_;
};

enum class FastMode { kAuto, kOn, kOff };

// Auto mode's limit: sum of output elements x sum of input elements (a 256 x 256 Jacobian).
inline constexpr std::int64_t kSlowModeMaxElements = 65536;

struct GradcheckOptions {
  double eps = 1e-6;   // the central-difference step, in float64
  double atol = 1e-8;  // float64 rule; torch.autograd.gradcheck's defaults are 1e-5 and 1e-3, loose
  double rtol = 1e-5;  //   enough to pass a gradient scaled by 1 + 1e-3 (see self_test)
  FastMode fast_mode = FastMode::kAuto;
  int fast_mode_projections = 1;  // random (u, v) pairs per (output, input) pair in fast mode
  double nondet_tol = 0.0;        // two backward runs must agree within this (0: bit-identical)
  std::uint64_t seed = 0;         // the private generator of u, v and the grad_outputs
  // The same function written in differentiable ATen ops: the gradients are also compared with
  // autograd through it (bit-exactness from the ledger, float32 by the verdict rule).
  TensorFn reference;
  std::vector<std::size_t> non_differentiable;  // inputs that require grad but get none by design
  bool self_test = false;                // also run the check on the catalog's bug classes and report which it misses
  bool check_undefined_grad = true;      // backward must accept undefined grad_outputs
  std::string name;                      // the function's name: the report's title and the ledger's key
  std::vector<std::string> input_names;  // default "input 0", "input 1", ...
  std::string ledger_path;               // your exactness ledger (JSON), read when a reference is given
  bool record = false;                   // write this environment's bit-exact gradients into ledger_path
};

// One failed check, with the worst element.
struct GradcheckFailure {
  std::string check;   // "jacobian", "fast mode", "reentrant", "missing gradient", "float32 verdict", ...
  std::string output;  // "output 0" ("" when the check is not about one output)
  std::string input;   // "input 1" or its name ("" when not about one input)
  std::vector<std::int64_t> output_index, input_index;  // the worst element, when there is one
  std::optional<double> analytical, numerical, reference;
  std::optional<double> bound;
  std::string message;  // one line: what was expected and what was found
};

struct SelfTestResult {
  std::string bug;    // "scaled by 1 + 1e-3", "sign flipped", "last element zeroed", "transposed", "swapped"
  std::string input;  // the input (or "input 0 <-> input 2") whose gradient the bug changes
  enum class Outcome { kCaught, kMissed, kEquivalent } outcome = Outcome::kMissed;
};

struct GradcheckReport {
  std::string title;                // "attention (float64, slow mode)"
  std::vector<std::string> passed;  // one line per check that ran and passed
  std::vector<GradcheckFailure> failures;
  std::vector<SelfTestResult> self_test;
  std::int64_t compared = 0;  // Jacobian entries (slow mode) or projections (fast mode) compared with central
                              // differences, plus gradient elements judged against a reference or float64
  bool pass = false;          // at least one comparison made, no failure, no self-test bug missed
  explicit operator bool() const { return pass; }
  std::string str() const;  // what operator<< prints
};

std::ostream& operator<<(std::ostream& os, const GradcheckReport& report);

// fn: a lambda around MyFunction::apply, or any differentiable composition. The differentiable
// inputs are those that require grad; others (indices, masks) are passed through unchanged.
GradcheckReport gradcheck(const TensorFn& fn, const Tensors& inputs, const GradcheckOptions& options = {});

// A plain hand-derived pair: forward(inputs) runs without autograd; backward(grad_outputs, inputs)
// returns one gradient per input.
GradcheckReport gradcheck(const TensorFn& forward, const BackwardFn& backward, const Tensors& inputs,
                          const GradcheckOptions& options = {});

// Second order, as torch.autograd.gradgradcheck: gradcheck of (inputs, grad_outputs) ->
// the vector-Jacobian product of fn, computed with create_graph. grad_outputs default to seeded
// standard normals, one per differentiable output.
GradcheckReport gradgradcheck(const TensorFn& fn, const Tensors& inputs, const Tensors& grad_outputs = {},
                              const GradcheckOptions& options = {});

}  // namespace bpn
