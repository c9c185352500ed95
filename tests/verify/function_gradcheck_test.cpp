// bpn::gradcheck (include/bpninja/gradcheck.h): each check passes a correct Function and fails a
// Function broken for that check, with the failure named; bad use throws std::invalid_argument; the
// float32 rule gives no false FAIL over a sweep of shapes and seeds and catches the bug classes.
#include <ATen/CPUGeneratorImpl.h>
#include <bpninja/gtest.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "support/scratch.h"

namespace {

namespace ag = torch::autograd;
using bpn::Tensors;

at::Tensor leaf(at::IntArrayRef shape, std::uint64_t seed, at::ScalarType dtype = at::kDouble) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, g, at::TensorOptions(at::kDouble)).to(dtype).requires_grad_(true);
}

bool has_failure(const bpn::GradcheckReport& r, const std::string& check) {
  for (const auto& f : r.failures) {
    if (f.check == check) return true;
  }
  return false;
}

// y = x * tanh(w), elementwise: two inputs, one output. The variants below break one check each.
enum class Variant {
  kCorrect,
  kNonReentrant,
  kThrowsOnUndefined,
  kWrongDtype,
  kMissingGradW,
  kNonZeroForZero,
  kIgnoresStrides,
  kDetachedSecondOrder
};
thread_local Variant variant = Variant::kCorrect;
thread_local int calls = 0;

struct XTanhW : ag::Function<XTanhW> {
  static at::Tensor forward(ag::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w) {
    ctx->save_for_backward({x, w});
    if (variant == Variant::kThrowsOnUndefined) ctx->set_materialize_grads(false);
    return x * at::tanh(w);
  }
  static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    const at::Tensor& dy = grads[0];
    if (variant == Variant::kThrowsOnUndefined && !dy.defined()) throw std::runtime_error("dy is undefined");
    // Forward: y = x * tanh(w);  Local: dy/dx = tanh(w), dy/dw = x (1 - tanh(w)^2)
    const at::Tensor t = variant == Variant::kDetachedSecondOrder ? at::tanh(w.detach()) : at::tanh(w);
    at::Tensor dx = dy * t;
    at::Tensor dw = dy * x * (1 - t * t);
    switch (variant) {
      case Variant::kNonReentrant:
        dx = dx * (1 + 1e-12 * (++calls));  // state kept between calls
        break;
      case Variant::kWrongDtype:
        dx = dx.to(at::kFloat);
        break;
      case Variant::kMissingGradW:
        dw = at::Tensor();
        break;
      case Variant::kNonZeroForZero:
        dw = dw + 1e-3 * x;  // a term that does not scale with dy
        break;
      case Variant::kIgnoresStrides: {  // reads dy's memory as if it were contiguous
        const at::Tensor raw = at::from_blob(dy.data_ptr(), dy.sizes(), dy.options()).clone();
        dx = raw * t;
        break;
      }
      default:
        break;
    }
    return {dx, dw};
  }
};

const bpn::TensorFn x_tanh_w = [](const Tensors& in) { return XTanhW::apply(in[0], in[1]); };

struct UseVariant {
  explicit UseVariant(Variant v) { variant = v; }
  ~UseVariant() { variant = Variant::kCorrect; }
};

Tensors two_inputs(at::ScalarType dtype = at::kDouble) { return {leaf({3, 4}, 1, dtype), leaf({3, 4}, 2, dtype)}; }

TEST(FunctionGradcheck, ACorrectFunctionPassesEveryCheckInBothModesAndSecondOrder) {
  bpn::GradcheckOptions options;
  options.name = "x_tanh_w";
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs(), options);
  EXPECT_TRUE(report) << report;
  EXPECT_EQ(report.compared, 2 * 12 * 12);  // every Jacobian element of both pairs
  EXPECT_GE(report.passed.size(), 7u) << report;
  options.fast_mode = bpn::FastMode::kOn;
  EXPECT_GRADCHECK(x_tanh_w, two_inputs(), options);
  EXPECT_GRADGRADCHECK(x_tanh_w, two_inputs());
}

TEST(FunctionGradcheck, AWrongDerivativeFailsWithTheWorstElementNamed) {
  const bpn::TensorFn forward = [](const Tensors& in) { return at::log1p(at::exp(in[0])); };
  const bpn::BackwardFn right = [](const Tensors& g, const Tensors& in) { return g[0] * at::sigmoid(in[0]); };
  const bpn::BackwardFn wrong = [](const Tensors& g, const Tensors& in) {
    at::Tensor d = g[0] * at::sigmoid(in[0]);
    d.select(0, 2).select(0, 1).mul_(1.01);  // one element 1% off
    return d;
  };
  const Tensors x = {leaf({4, 3}, 3)};
  EXPECT_GRADCHECK(forward, right, x);
  const auto report = bpn::gradcheck(forward, wrong, x);
  ASSERT_FALSE(report);
  ASSERT_EQ(report.failures.size(), 1u) << report;
  const auto& f = report.failures[0];
  EXPECT_EQ(f.check, "jacobian");
  EXPECT_EQ(f.output_index, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(f.input_index, (std::vector<std::int64_t>{2, 1}));
  ASSERT_TRUE(f.analytical && f.numerical && f.bound);
  EXPECT_NEAR(*f.analytical / *f.numerical, 1.01, 1e-6);
  EXPECT_NE(report.str().find("d output 0(2, 1) / d input 0(2, 1)"), std::string::npos) << report;
}

TEST(FunctionGradcheck, FastModeRecomputesSlowModeOnAMismatchToNameTheWorstElement) {
  const bpn::TensorFn forward = [](const Tensors& in) { return in[0] * in[0]; };
  const bpn::BackwardFn wrong = [](const Tensors& g, const Tensors& in) {
    at::Tensor d = 2 * g[0] * in[0];
    d.select(0, 7).mul_(-1.0);  // one row with the sign flipped
    return d;
  };
  bpn::GradcheckOptions options;
  options.fast_mode = bpn::FastMode::kOn;
  const auto report = bpn::gradcheck(forward, wrong, {leaf({16, 8}, 4)}, options);
  ASSERT_FALSE(report);
  ASSERT_TRUE(has_failure(report, "fast mode")) << report;
  EXPECT_EQ(report.failures[0].input_index.at(0), 7) << report;
  EXPECT_NE(report.title.find("fast mode"), std::string::npos);
}

TEST(FunctionGradcheck, ANonReentrantBackwardFailsUnlessWithinNondetTol) {
  UseVariant v(Variant::kNonReentrant);
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "reentrant")) << report;
  bpn::GradcheckOptions options;
  options.nondet_tol = 1e-6;
  EXPECT_GRADCHECK(x_tanh_w, two_inputs(), options);
}

TEST(FunctionGradcheck, ABackwardThatThrowsOnUndefinedGradOutputsFailsWithoutThrowing) {
  UseVariant v(Variant::kThrowsOnUndefined);
  bpn::GradcheckReport report;
  EXPECT_NO_THROW(report = bpn::gradcheck(x_tanh_w, two_inputs()));
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "undefined grad")) << report;
}

TEST(FunctionGradcheck, AGradientOfTheWrongDtypeFailsThoughTheEngineCastsIt) {
  UseVariant v(Variant::kWrongDtype);
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "gradient dtype")) << report;
}

TEST(FunctionGradcheck, AMissingGradientFailsUnlessDeclaredNonDifferentiable) {
  UseVariant v(Variant::kMissingGradW);
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "missing gradient")) << report;
  bpn::GradcheckOptions options;
  options.non_differentiable = {1};
  EXPECT_GRADCHECK(x_tanh_w, two_inputs(), options);
}

TEST(FunctionGradcheck, AZeroGradOutputMustGiveZeroGradients) {
  UseVariant v(Variant::kNonZeroForZero);
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "zero grad")) << report;
}

TEST(FunctionGradcheck, ABackwardThatIgnoresStridesFailsOnNonContiguousGradOutputs) {
  UseVariant v(Variant::kIgnoresStrides);
  const auto report = bpn::gradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "non-contiguous")) << report;
}

TEST(FunctionGradcheck, AWrongSecondDerivativePassesGradcheckAndFailsGradgradcheck) {
  UseVariant v(Variant::kDetachedSecondOrder);
  EXPECT_GRADCHECK(x_tanh_w, two_inputs());
  const auto report = bpn::gradgradcheck(x_tanh_w, two_inputs());
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "jacobian")) << report;
}

TEST(FunctionGradcheck, OutputsThatChangeShapeUnderPerturbationFail) {
  // x[x >= 0.5]: an element at exactly 0.5 leaves the output when perturbed down by eps
  const bpn::TensorFn select = [](const Tensors& in) { return in[0].masked_select(in[0] >= 0.5); };
  const at::Tensor x = at::tensor({0.1, 0.5, 0.9}, at::kDouble).requires_grad_(true);
  const auto report = bpn::gradcheck(select, {x});
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "output shape")) << report;
}

TEST(FunctionGradcheck, ANonDifferentiableOutputThatDependsOnTheInputFails) {
  // Two outputs: y = 2x (differentiable) and z = x^2 computed without grad (claims no derivative)
  const bpn::TensorFn fn = [](const Tensors& in) -> Tensors {
    at::Tensor z;
    {
      at::NoGradGuard no_grad;
      z = in[0] * in[0];
    }
    return {2 * in[0], z};
  };
  const auto report = bpn::gradcheck(fn, {leaf({5}, 5)});
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "non-differentiable output")) << report;
  const bpn::TensorFn constant = [](const Tensors& in) -> Tensors { return {2 * in[0], at::ones({3})}; };
  EXPECT_GRADCHECK(constant, {leaf({5}, 5)});
}

TEST(FunctionGradcheck, IntegerInputsPassThroughUnperturbed) {
  const bpn::TensorFn gather = [](const Tensors& in) { return in[0].index_select(0, in[1]) * 3; };
  EXPECT_GRADCHECK(gather, {leaf({6, 2}, 6), at::tensor({0, 2, 2, 5}, at::kLong)});
}

TEST(FunctionGradcheck, BadUseThrowsInvalidArgumentNamingTheInputAndTheFix) {
  auto message = [](const Tensors& in, bpn::GradcheckOptions options = {}) {
    try {
      bpn::gradcheck(x_tanh_w, in, options);
    } catch (const std::invalid_argument& ex) {
      return std::string(ex.what());
    }
    return std::string("no exception");
  };
  const at::Tensor x = leaf({3, 4}, 1), w = leaf({3, 4}, 2);
  EXPECT_NE(message({x.detach(), w.detach()}).find("no input requires grad"), std::string::npos);
  EXPECT_NE(message({x, leaf({1, 4}, 2).expand({3, 4})}).find("stride 0"), std::string::npos);
  EXPECT_NE(message({x, leaf({3, 4}, 2, at::kFloat)}).find("give every differentiable input one dtype"),
            std::string::npos);
  EXPECT_NE(message({x, leaf({3, 4}, 2, at::kHalf)}).find(".to(at::kDouble)"), std::string::npos);
  bpn::GradcheckOptions options;
  options.non_differentiable = {5};
  EXPECT_NE(message({x, w}, options).find("only 2 inputs"), std::string::npos);
  options = {};
  options.eps = 0;
  EXPECT_NE(message({x, w}, options).find("options.eps"), std::string::npos);
  options = {};
  options.ledger_path = "ledger.json";
  EXPECT_NE(message({x, w}, options).find("options.name"), std::string::npos);
  // float32 that cannot run in float64, without a reference
  const bpn::TensorFn only32 = [](const Tensors& in) { return in[0].to(at::kFloat) * 2; };
  EXPECT_THROW(bpn::gradcheck(only32, {leaf({4}, 7, at::kFloat)}), std::invalid_argument);
  bpn::GradcheckOptions with_reference;
  with_reference.reference = [](const Tensors& in) { return in[0] * 2; };
  EXPECT_GRADCHECK(only32, {leaf({4}, 7, at::kFloat)}, with_reference);
}

TEST(FunctionGradcheck, Float32IsJudgedByTheVerdictAgainstItsOwnFloat64Run) {
  EXPECT_GRADCHECK(x_tanh_w, two_inputs(at::kFloat));
  const bpn::TensorFn forward = [](const Tensors& in) { return at::tanh(in[0]); };
  // A bug in every dtype: the finite differences catch it on the float64 copies
  const bpn::BackwardFn off = [](const Tensors& g, const Tensors& in) {
    const at::Tensor t = at::tanh(in[0]);
    return g[0] * (1 - t * t) * (1 + 1e-4);
  };
  auto report = bpn::gradcheck(forward, off, {leaf({8, 8}, 8, at::kFloat)});
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "jacobian")) << report;
  // A bug in the float32 path only (the local derivative rounded through bfloat16, 8 bits): the
  // float64 run is right, and the verdict catches the float32 one
  const bpn::BackwardFn bf16 = [](const Tensors& g, const Tensors& in) {
    const at::Tensor t = at::tanh(in[0]);
    at::Tensor local = 1 - t * t;
    if (local.scalar_type() == at::kFloat) local = local.to(at::kBFloat16).to(at::kFloat);
    return g[0] * local;
  };
  report = bpn::gradcheck(forward, bf16, {leaf({8, 8}, 8, at::kFloat)});
  EXPECT_FALSE(report);
  ASSERT_TRUE(has_failure(report, "float32 verdict")) << report;
  EXPECT_FALSE(has_failure(report, "jacobian")) << report;
  EXPECT_NE(report.str().find("own float32 noise"), std::string::npos) << report;
}

// The float32 rule over random shapes and seeds: correct functions never fail, and each of them with
// its float32 gradient scaled by 1 + 1e-3 always fails the float32 verdict.
TEST(FunctionGradcheck, Float32SweepGivesNoFalseFailAndCatchesEveryScaledGradient) {
  const std::vector<std::pair<std::string, bpn::TensorFn>> functions = {
      {"x_tanh_w", x_tanh_w},
      {"softplus", [](const Tensors& in) { return at::log1p(at::exp(in[0] * 3)) + in[1]; }},
      {"matmul_tanh", [](const Tensors& in) { return at::tanh(in[0].matmul(in[1].t())); }},
      {"softmax", [](const Tensors& in) { return at::softmax(in[0] * 4, -1) * in[1]; }},
      // over 2 cols or more: a LayerNorm over 2 elements outputs +-1 whatever the input, its exact
      // gradient is ~0 and its computed one pure rounding, so no scaling of it is visible
      {"layer_norm",
       [](const Tensors& in) {
         return at::layer_norm(at::cat({in[0], in[1]}, -1), {2 * in[0].size(-1)});
       }},
  };
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(20261202);
  int cases = 0, false_fails = 0, caught = 0;
#ifdef BPNINJA_SANITIZE_BUILD
  const int trials = 4;  // memory errors, not statistics, under ASan: the release suite runs all 100 cases
#else
  const int trials = 20;
#endif
  for (int trial = 0; trial < trials; ++trial) {
    const std::int64_t rows = at::randint(1, 9, {1}, g).item<std::int64_t>();
    const std::int64_t cols = at::randint(2, 9, {1}, g).item<std::int64_t>();
    const std::uint64_t seed = static_cast<std::uint64_t>(at::randint(0, 1 << 30, {1}, g).item<std::int64_t>());
    for (const auto& [name, fn] : functions) {
      const Tensors in = {leaf({rows, cols}, seed, at::kFloat), leaf({rows, cols}, seed + 1, at::kFloat)};
      bpn::GradcheckOptions options;
      options.name = name;
      options.seed = seed;
      const auto report = bpn::gradcheck(fn, in, options);
      ++cases;
      if (!report) {
        ++false_fails;
        ADD_FAILURE() << "[" << rows << ", " << cols << "] seed " << seed << "\n" << report;
      }
      // The same function with its float32 gradients 1 + 1e-3 too large (y + 1e-3 (y - y.detach()) in
      // float32 only): the float64 copies are right, so only the float32 verdict can catch it
      const bpn::TensorFn scaled = [fn = fn](const Tensors& x) {
        Tensors y = fn(x);
        for (at::Tensor& t : y) {
          if (t.scalar_type() == at::kFloat) t = t + 1e-3 * (t - t.detach());
        }
        return y;
      };
      const auto bug = bpn::gradcheck(scaled, in, options);
      const bool bug_caught = !bug && has_failure(bug, "float32 verdict") && !has_failure(bug, "jacobian");
      caught += bug_caught;
      if (!bug_caught) ADD_FAILURE() << "not caught: [" << rows << ", " << cols << "] seed " << seed << "\n" << bug;
    }
  }
  std::printf("float32 sweep: %d cases, %d false FAIL, %d of %d scaled gradients caught\n", cases, false_fails, caught,
              cases);
  EXPECT_EQ(false_fails, 0);
  EXPECT_EQ(caught, cases);
  EXPECT_EQ(cases, 5 * trials);
}

TEST(FunctionGradcheck, TheSelfTestCatchesEveryBugClassInSlowMode) {
  bpn::GradcheckOptions options;
  options.self_test = true;
  const bpn::TensorFn matmul = [](const Tensors& in) { return at::tanh(in[0].mm(in[1])); };
  const auto report = bpn::gradcheck(matmul, {leaf({4, 4}, 9), leaf({4, 4}, 10)}, options);
  EXPECT_TRUE(report) << report;
  // 3 per input, transposed for both (square), swapped once
  EXPECT_EQ(report.self_test.size(), 9u);
  for (const auto& s : report.self_test) {
    EXPECT_EQ(s.outcome, bpn::SelfTestResult::Outcome::kCaught) << s.bug << " " << s.input;
  }
}

TEST(FunctionGradcheck, TheLedgerRecordsExactnessAgainstTheReferenceAndCatchesOneUlp) {
  const std::string path = bpn::testing::scratch_path("function_ledger_test.json").string();
  std::filesystem::remove(path);
  bpn::GradcheckOptions options;
  options.name = "x_tanh_w";
  options.input_names = {"x", "w"};
  options.reference = [](const Tensors& in) { return in[0] * at::tanh(in[1]); };
  options.ledger_path = path;
  options.record = true;
  const auto recorded = bpn::gradcheck(x_tanh_w, two_inputs(), options);
  ASSERT_TRUE(recorded) << recorded;
  ASSERT_TRUE(std::filesystem::exists(path));
  options.record = false;
  EXPECT_GRADCHECK(x_tanh_w, two_inputs(), options);
  // dy/dx * (1 + 2^-52): one ULP, invisible to finite differences, caught by the ledger
  const bpn::TensorFn ulp = [](const Tensors& in) {
    const at::Tensor y = XTanhW::apply(in[0], in[1]);
    return y + (y - y.detach()) * std::ldexp(1.0, -52);
  };
  const auto report = bpn::gradcheck(ulp, two_inputs(), options);
  EXPECT_FALSE(report);
  EXPECT_TRUE(has_failure(report, "reference")) << report;
  std::filesystem::remove(path);
}

}  // namespace

namespace {

// Fast mode's sensitivity, measured by the self-test on a dense Jacobian (tanh of a product, 16 x 16
// inputs: 512 input and 256 output elements, so auto mode picks fast mode).
TEST(FunctionGradcheck, TheSelfTestMeasuresFastModesSensitivity) {
  bpn::GradcheckOptions options;
  options.self_test = true;
  const bpn::TensorFn matmul = [](const Tensors& in) { return at::tanh(in[0].mm(in[1]) * 0.3); };
  const auto report = bpn::gradcheck(matmul, {leaf({16, 16}, 11), leaf({16, 16}, 12)}, options);
  std::printf("%s", report.str().c_str());
  ASSERT_NE(report.title.find("fast mode"), std::string::npos);
  EXPECT_EQ(report.self_test.size(), 9u);
  for (const auto& s : report.self_test) {
    EXPECT_EQ(s.outcome, bpn::SelfTestResult::Outcome::kCaught) << s.bug << " " << s.input << "\n" << report;
  }
  EXPECT_TRUE(report) << report;
}

}  // namespace
