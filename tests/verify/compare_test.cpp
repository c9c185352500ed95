#include "verify/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "verify/grad_assert.h"
#include "verify/verdict.h"

namespace bpn::verify {
namespace {

TEST(Compare, IdenticalTensorsAreExact) {
  const at::Tensor a = at::randn({4, 5});
  const Comparison c = compare("a", a, a.clone());
  EXPECT_TRUE(c.same_shape);
  EXPECT_TRUE(c.exact);
  EXPECT_TRUE(c.allclose);
  EXPECT_EQ(c.maxdiff, 0.0);
  EXPECT_EQ(c.exact_fraction, 1.0);
  EXPECT_EQ(c.max_ulp, 0u);
}

TEST(Compare, OneUlpApartIsCloseButNotExact) {
  const at::Tensor ref = at::ones({2, 3});
  at::Tensor man = ref.clone();
  man[1][2] = std::nextafter(1.0f, 2.0f);
  const Comparison c = compare("x", man, ref);
  EXPECT_FALSE(c.exact);
  EXPECT_TRUE(c.allclose);
  EXPECT_EQ(c.max_ulp, 1u);
  EXPECT_DOUBLE_EQ(c.exact_fraction, 5.0 / 6.0);
  EXPECT_EQ(c.worst_index, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(c.maxdiff, static_cast<double>(std::nextafter(1.0f, 2.0f)) - 1.0);
  EXPECT_EQ(c.manual_at_worst, static_cast<double>(std::nextafter(1.0f, 2.0f)));
  EXPECT_EQ(c.reference_at_worst, 1.0);
}

TEST(Compare, UlpDistanceCrossesZero) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  const Comparison c = compare("x", at::tensor({tiny}), at::tensor({-tiny}));
  EXPECT_EQ(c.max_ulp, 2u);
}

TEST(Compare, SignedZerosAreNotBitEqual) {
  const Comparison c = compare("z", at::tensor({0.0f}), at::tensor({-0.0f}));
  EXPECT_FALSE(c.exact);
  EXPECT_TRUE(c.allclose);
  EXPECT_EQ(c.max_ulp, 0u);
}

TEST(Compare, ShapeMismatchIsAFailureNotABroadcast) {
  const Comparison c = compare("bngain", at::ones({64}), at::ones({1, 64}));
  EXPECT_FALSE(c.same_shape);
  EXPECT_FALSE(c.exact);
  EXPECT_FALSE(c.allclose);
  EXPECT_NE(c.problem.find("shape mismatch"), std::string::npos);
}

TEST(Compare, DtypeMismatchIsAFailure) {
  const Comparison c = compare("x", at::ones({3}), at::ones({3}, at::kDouble));
  EXPECT_FALSE(c.allclose);
  EXPECT_NE(c.problem.find("dtype"), std::string::npos);
}

TEST(Compare, NanIsNeverClose) {
  at::Tensor man = at::zeros({3});
  man[1] = std::numeric_limits<float>::quiet_NaN();
  const Comparison c = compare("x", man, at::zeros({3}));
  EXPECT_FALSE(c.allclose);
  EXPECT_TRUE(std::isnan(c.maxdiff));
  EXPECT_EQ(c.worst_index, (std::vector<std::int64_t>{1}));
}

TEST(Compare, AllcloseUsesTorchDefaults) {
  const at::Tensor ref = at::full({1}, 1000.0, at::kDouble);
  EXPECT_TRUE(compare("x", ref + 0.9e-2, ref).allclose);  // 1e-8 + 1e-5*1000 = 1.000001e-2
  EXPECT_FALSE(compare("x", ref + 1.1e-2, ref).allclose);
}

TEST(GradAssert, FailureMessageHasShapeMaxdiffWorstIndexAndBothValues) {
  const at::Tensor ref = at::zeros({2, 2});
  at::Tensor man = ref.clone();
  man[0][1] = 0.5f;
  const auto result = bpn::testing::GradAllClose("man", "ref", man, ref);
  ASSERT_FALSE(result);
  const std::string msg = result.message();
  for (const char* part : {"[2, 2]", "maxdiff 0.5", "(0, 1)", "manual 0.5", "reference 0", "max ULP"}) {
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
  }
  EXPECT_TRUE(bpn::testing::GradExact("a", "b", ref, ref.clone()));
}

TEST(GradAssert, AccurateUsesTheVerdictRuleAndPrintsTheBound) {
  const at::Tensor ref64 = at::randn({4, 3}, at::kDouble);
  const at::Tensor a32 = ref64.to(at::kFloat);
  EXPECT_GRAD_ACCURATE(a32, ref64, a32);
  at::Tensor bad = a32.clone();
  bad[1][2] += 1e-3f;
  const auto result = bpn::testing::GradAccurate("bad", "ref64", "a32", bad, ref64, a32);
  ASSERT_FALSE(result);
  const std::string msg = result.message();
  for (const char* part : {"exceeds bound", "[4, 3]", "(1, 2)"}) {
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
  }
}

}  // namespace
}  // namespace bpn::verify

namespace bpn::verify {
namespace {

TEST(Compare, IdenticalNanIsNotExact) {
  const at::Tensor a = at::tensor({1.0f, NAN});
  const Comparison c = compare("x", a, a.clone());
  EXPECT_FALSE(c.exact);
  EXPECT_FALSE(c.allclose);
  EXPECT_DOUBLE_EQ(c.exact_fraction, 0.5);
}

TEST(Compare, EqualInfinitiesAreExactOppositeOnesAreNot) {
  const at::Tensor a = at::tensor({1.0, INFINITY, -INFINITY}, at::kDouble);
  const Comparison same = compare("x", a, a.clone());
  EXPECT_TRUE(same.exact);
  EXPECT_TRUE(same.allclose);  // torch.allclose: equal infinities are close
  const Comparison flipped = compare("x", a, at::tensor({1.0, -INFINITY, -INFINITY}, at::kDouble));
  EXPECT_FALSE(flipped.exact);
  EXPECT_FALSE(flipped.allclose);
}

TEST(Compare, AllcloseIsAsymmetricRtolScalesTheReference) {
  // |m - r| <= atol + rtol * |r|. With m = 1 and r = 1 + d, d = 1.0010005e-5: against r the bound is
  // 1e-8 + 1e-5 * (1 + d) = 1.00101e-5 >= d (close); swapped, against m = 1 it is 1.001e-5 < d (not).
  const double m = 1.0, r = 1.0 + 1.0010005e-5;
  EXPECT_TRUE(compare("x", at::tensor({m}, at::kDouble), at::tensor({r}, at::kDouble)).allclose);
  EXPECT_FALSE(compare("x", at::tensor({r}, at::kDouble), at::tensor({m}, at::kDouble)).allclose);
}

TEST(Verdict, ABugOfOneMillionthFailsInFloat64) {
  const at::Tensor ref = at::randn({64, 27}, at::kDouble);
  const Accuracy ok = judge_accuracy(ref.clone(), ref, ref.to(at::kFloat));
  EXPECT_TRUE(ok.pass) << ok.describe();
  const Accuracy bug = judge_accuracy(ref * (1 + 1e-6), ref, ref.to(at::kFloat));
  EXPECT_FALSE(bug.pass) << bug.describe();
}

TEST(Verdict, Float32IsJudgedAgainstFloat64WithAutogradsOwnErrorAsTheScale) {
  const at::Tensor ref64 = at::randn({32, 64}, at::kDouble);
  const at::Tensor autograd32 = ref64.to(at::kFloat);  // within half an ULP of float64
  EXPECT_TRUE(judge_accuracy(autograd32, ref64, autograd32).pass);
  // A few ULPs worse than autograd is fine; a 1e-4 relative error is not.
  EXPECT_TRUE(judge_accuracy((ref64 * (1 + 4 * kUnitRoundoff32)).to(at::kFloat), ref64, autograd32).pass);
  EXPECT_FALSE(judge_accuracy((ref64 * (1 + 1e-4)).to(at::kFloat), ref64, autograd32).pass);
}

TEST(Verdict, NanOrAMissingReferenceNeverPasses) {
  const at::Tensor ref = at::ones({3}, at::kDouble);
  EXPECT_FALSE(judge_accuracy(at::tensor({1.0, NAN, 1.0}, at::kDouble), ref, ref.to(at::kFloat)).pass);
  EXPECT_FALSE(judge_accuracy(ref, at::Tensor(), ref.to(at::kFloat)).pass);
  EXPECT_FALSE(judge_accuracy(ref, at::ones({4}, at::kDouble), ref.to(at::kFloat)).pass);
}

TEST(Verdict, AnAnalyticallyZeroGradientIsJudgedAtTheScaleOfItsSum) {
  const at::Tensor ref64 = at::tensor({1e-17}, at::kDouble);  // rounding noise of a sum of O(1) terms
  const at::Tensor noise32 = at::tensor({3e-8f});
  EXPECT_FALSE(judge_accuracy(noise32, ref64, at::zeros({1})).pass);                       // scale 1e-17: fails
  EXPECT_TRUE(judge_accuracy(noise32, ref64, at::zeros({1}), /*noise_scale=*/32.0).pass);  // 32 terms of size 1
}

}  // namespace
}  // namespace bpn::verify
