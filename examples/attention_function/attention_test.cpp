// Verifying a hand-written torch::autograd::Function with bpn::gradcheck: every Jacobian element against
// central differences, second order with bpn::gradgradcheck, float32 by the verdict rule, and the
// two broken variants caught with the input and the element named. Derivation:
// docs/derivations.md#attention_function
#include "attention.h"

#include <bpninja/gradcheck.h>
#include <bpninja/gtest.h>  // EXPECT_GRADCHECK, EXPECT_GRADGRADCHECK
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

// q [5, 4], k [6, 4], v [6, 3], seeded, halved so that tanh(q k^T) stays away from saturation.
bpn::Tensors attention_inputs(at::ScalarType dtype) {
  at::manual_seed(0);
  const auto leaf = [dtype](at::IntArrayRef shape) {
    return (0.5 * at::randn(shape, at::kDouble)).to(dtype).requires_grad_();
  };
  return {leaf({5, 4}), leaf({6, 4}), leaf({6, 3})};
}

const auto attention = [](const bpn::Tensors& in) { return Attention::apply(in[0], in[1], in[2]); };

bpn::GradcheckOptions named_options() {
  bpn::GradcheckOptions options;
  options.name = "attention";
  options.input_names = {"q", "k", "v"};
  return options;
}

TEST(AttentionFunction, PassesGradcheckInFloat64) {
  const bpn::Tensors in = attention_inputs(at::kDouble);
  EXPECT_GRADCHECK(attention, in, named_options());
}

// The self-test: would this check have caught the usual bugs in this backward? Each gradient scaled
// by 1 + 1e-3, its sign flipped, its last element zeroed, two same-shape gradients swapped (q and k
// are [5, 4] and [6, 4]: no pair here), a square one transposed (none here either).
TEST(AttentionFunction, TheSelfTestCatchesEveryBugClass) {
  bpn::GradcheckOptions options = named_options();
  options.self_test = true;
  const bpn::GradcheckReport report = bpn::gradcheck(attention, attention_inputs(at::kDouble), options);
  EXPECT_TRUE(report) << report;
  EXPECT_EQ(report.self_test.size(), 9u);  // three bug classes for each of q, k, v
  for (const bpn::SelfTestResult& s : report.self_test) {
    EXPECT_EQ(s.outcome, bpn::SelfTestResult::Outcome::kCaught) << s.bug << " on " << s.input;
  }
}

TEST(AttentionFunction, PassesGradgradcheckInFloat64) {
  const bpn::Tensors in = attention_inputs(at::kDouble);
  EXPECT_GRADGRADCHECK(attention, in);  // grad_outputs: seeded standard normals, for o and a
}

// No reference needed: the Function also runs on float64 copies, which central differences check,
// and the float32 gradients are judged against those by the verdict rule.
TEST(AttentionFunction, PassesTheVerdictInFloat32) {
  const bpn::Tensors in = attention_inputs(at::kFloat);
  EXPECT_GRADCHECK(attention, in, named_options());
}

// With a reference (the same function in plain ATen ops), float32 is also compared with autograd
// through it.
TEST(AttentionFunction, PassesTheVerdictInFloat32AgainstAnATenReference) {
  bpn::GradcheckOptions options = named_options();
  options.reference = [](const bpn::Tensors& in) {
    const at::Tensor a = at::tanh(in[0].mm(in[1].t()));
    return bpn::Tensors{a.mm(in[2]), a};
  };
  const bpn::Tensors in = attention_inputs(at::kFloat);
  EXPECT_GRADCHECK(attention, in, options);
}

TEST(AttentionFunction, DetachedScoresPassGradcheckButFailGradgradcheck) {
  const auto detached = [](const bpn::Tensors& in) { return AttentionSavesDetachedScores::apply(in[0], in[1], in[2]); };
  const bpn::Tensors in = attention_inputs(at::kDouble);
  EXPECT_GRADCHECK(detached, in);  // first order is right
  const bpn::GradcheckReport report = bpn::gradgradcheck(detached, in);
  std::cout << report << '\n';
  EXPECT_FALSE(report.pass);
  EXPECT_FALSE(report.failures.empty());
}

TEST(AttentionFunction, WrongGkFailsGradcheckAndNamesK) {
  const auto wrong = [](const bpn::Tensors& in) { return AttentionWrongGk::apply(in[0], in[1], in[2]); };
  const bpn::GradcheckReport report = bpn::gradcheck(wrong, attention_inputs(at::kDouble), named_options());
  std::cout << report << '\n';
  ASSERT_FALSE(report.pass);
  const auto on_k = std::find_if(report.failures.begin(), report.failures.end(),
                                 [](const bpn::GradcheckFailure& f) { return f.input == "k"; });
  ASSERT_NE(on_k, report.failures.end());
  EXPECT_EQ(on_k->check, "jacobian");
  EXPECT_EQ(on_k->output, "output 1");      // only a's rows of the Jacobian carry the lost term
  EXPECT_FALSE(on_k->input_index.empty());  // the worst element of k
  for (const bpn::GradcheckFailure& f : report.failures) {
    EXPECT_NE(f.input, "q") << f.message;  // q's and v's gradients are right
    EXPECT_NE(f.input, "v") << f.message;
  }
}

TEST(AttentionFunction, RejectsBadShapesAndDtypes) {
  const at::Tensor q = at::randn({5, 4}, at::kDouble), k = at::randn({6, 4}, at::kDouble),
                   v = at::randn({6, 3}, at::kDouble);
  const at::Tensor k5 = at::randn({6, 5}, at::kDouble), v7 = at::randn({7, 3}, at::kDouble);
  EXPECT_THROW(Attention::apply(q.flatten(), k, v), std::invalid_argument);       // q not 2-D
  EXPECT_THROW(Attention::apply(q, k5, v), std::invalid_argument);                // k: d = 5, q has 4 columns
  EXPECT_THROW(Attention::apply(q, k, v7), std::invalid_argument);                // v: m = 7, k has 6 rows
  EXPECT_THROW(Attention::apply(q, k, v.to(at::kFloat)), std::invalid_argument);  // mixed dtypes
  try {
    Attention::apply(q, k.t(), v);
    ADD_FAILURE() << "no exception for k [4, 6]";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("got k [4, 6]"), std::string::npos) << e.what();
  }
}

}  // namespace
