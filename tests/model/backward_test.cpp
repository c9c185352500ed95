// The hand-derived backward functions, one property at a time, on synthetic batches.
// (The notebook's own batch is checked in tests/verify/check_test.cpp.)
#include "model/backward.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <map>

#include "support/grad_assert.h"
#include "support/synthetic.h"
#include "util/errors.h"
#include "verify/environment.h"

namespace bpn::model {
namespace {

using bpn::testing::chunked_autograd;
using bpn::testing::synthetic;

TEST(ChunkedBackward, AllTwentySixMatchAutogradOnASyntheticBatch) {
  for (auto dtype : {at::kFloat, at::kDouble}) {
    auto s = synthetic(20, 11, 4, 5, 17, 3, dtype);
    ChunkedForward f;
    auto ref = chunked_autograd(s.p, f, s.Xb, s.Yb);
    const ChunkedGrads g = chunked_backward(s.p, f, s.Xb, s.Yb);
    ASSERT_EQ(g.named().size(), 26u);
    for (const auto& [name, manual] : g.named()) {
      SCOPED_TRACE(name + " " + dtype_name(dtype));
      EXPECT_GRAD_ALLCLOSE(manual, ref.at(name));
      EXPECT_FALSE(manual.requires_grad());
      EXPECT_FALSE(manual.grad_fn());
    }
  }
}

TEST(ChunkedBackward, GradientsHaveTheShapesOfTheirTensors) {
  auto s = synthetic(8, 7, 3, 4, 6, 1);
  ChunkedForward f;
  chunked_autograd(s.p, f, s.Xb, s.Yb);
  const ChunkedGrads g = chunked_backward(s.p, f, s.Xb, s.Yb);
  EXPECT_EQ(g.params.dbngain.sizes(), (at::IntArrayRef{1, 6}));  // not [6]
  EXPECT_EQ(g.params.db1.sizes(), (at::IntArrayRef{6}));         // not [1, 6]
  EXPECT_EQ(g.params.db2.sizes(), (at::IntArrayRef{7}));
  EXPECT_EQ(g.demb.sizes(), (at::IntArrayRef{8, 3, 4}));
  EXPECT_EQ(g.dlogit_maxes.sizes(), (at::IntArrayRef{8, 1}));
}

TEST(EmbBackward, RepeatedIndicesAccumulate) {
  // Every context is the same character: its row of dC is the sum of all n*T rows of demb.
  at::Generator g = at::detail::createCPUGenerator(5);
  const at::Tensor C = at::randn({6, 4}, g).set_requires_grad(true);
  const at::Tensor Xb = at::full({5, 3}, 2, at::kLong);
  const at::Tensor demb = at::randn({5, 3, 4}, g);
  C.index({Xb}).backward(demb);
  const at::Tensor dC = emb_backward(demb, Xb, C.detach());
  EXPECT_GRAD_EXACT(dC, C.grad());
  EXPECT_TRUE(at::allclose(dC[2], demb.sum(at::IntArrayRef{0, 1})));
  EXPECT_EQ(at::count_nonzero(dC.index({at::indexing::Slice(0, 2)})).item<std::int64_t>(), 0);
}

TEST(LogitMaxesBackward, TiesRouteToTheIndexMaxReturned) {
  const at::Tensor logits = at::zeros({4, 5}).set_requires_grad(true);  // every logit tied
  auto [maxes, argmax] = logits.max(1, true);
  const at::Tensor dmaxes = at::arange(1, 5, at::kFloat).view({4, 1});
  maxes.backward(dmaxes);
  EXPECT_GRAD_EXACT(logit_maxes_backward(dmaxes, logits.detach(), argmax), logits.grad());
}

TEST(HBackward, LocalDerivativeIsRoundedOnceLikeAtenKernels) {
  at::Generator g = at::detail::createCPUGenerator(11);
  const at::Tensor hpreact = (at::randn({64, 64}, g) * 2).set_requires_grad(true);
  const at::Tensor h = at::tanh(hpreact);
  const at::Tensor dh = at::randn({64, 64}, g);
  h.backward(dh);
  const at::Tensor manual = h_backward(dh, h.detach());
  EXPECT_GRAD_ALLCLOSE(manual, hpreact.grad());
  const auto capability = verify::current_environment(at::kFloat, at::kCPU).cpu_capability;
  if (capability == "AVX2" || capability == "AVX512") {
    // ATen's vectorized tanh_backward contracts 1 - y*y to an fma on these dispatch levels.
    EXPECT_GRAD_EXACT(manual, hpreact.grad());
  }
}

TEST(CrossEntropyBackward, ClosedFormMatchesAutogradOfCrossEntropy) {
  at::Generator g = at::detail::createCPUGenerator(13);
  const at::Tensor logits = (at::randn({9, 6}, g) * 3).set_requires_grad(true);
  const at::Tensor Yb = at::randint(0, 6, {9}, g, at::kLong);
  cross_entropy_forward(logits, Yb).backward();
  EXPECT_GRAD_ALLCLOSE(cross_entropy_backward(logits.detach(), Yb), logits.grad());
}

// Autograd's dhprebn through the one-expression forward with the given variance convention.
at::Tensor bn_reference(const at::Tensor& x, const at::Tensor& gain, const at::Tensor& bias, const at::Tensor& dout,
                        Variance v) {
  const at::Tensor leaf = x.clone().set_requires_grad(true);
  hpreact_fast(leaf, gain, bias, v).backward(dout);
  return leaf.grad();
}

at::Tensor bn_closed_form(const at::Tensor& x, const at::Tensor& gain, const at::Tensor& bias, const at::Tensor& dout,
                          Variance v) {
  const auto bn = batchnorm_forward(x, gain, bias, v);
  return batchnorm_backward(dout, bn.bnraw, bn.bnvar_inv, gain, v);
}

}  // namespace

void PrintTo(Variance v, std::ostream* os) { *os << variance_name(v); }  // names in ctest

namespace {

class BatchNormBackward : public ::testing::TestWithParam<Variance> {};

// The formula itself, in float64 so that rounding cannot hide an algebra error. (In float32 with
// O(1) upstream gradients, elements near zero lose their relative accuracy to cancellation in both
// computations: see docs/derivations.md#batchnorm_backward. The float32 notebook batch, with the
// loss's 1/n-scaled gradients, is held to allclose and maxdiff <= 1e-8 in check_test.cpp.)
TEST_P(BatchNormBackward, ClosedFormMatchesAutogradOfTheSameConvention) {
  const Variance v = GetParam();
  at::Generator g = at::detail::createCPUGenerator(17);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  for (std::int64_t n : {2, 3, 32, 100}) {
    SCOPED_TRACE("n = " + std::to_string(n) + ", " + variance_name(v));
    const at::Tensor x = at::randn({n, 8}, g, f64) * 2 + 1, gain = at::randn({1, 8}, g, f64),
                     bias = at::randn({1, 8}, g, f64);
    const at::Tensor dout = at::randn({n, 8}, g, f64);
    EXPECT_GRAD_ALLCLOSE(bn_closed_form(x, gain, bias, dout, v), bn_reference(x, gain, bias, dout, v));
  }
}

TEST_P(BatchNormBackward, TheOtherConventionsFormulaIsWrong) {
  // Mixing the conventions up is a real error, not rounding: the gradients differ well beyond allclose.
  const Variance v = GetParam();
  const Variance other = v == Variance::kUnbiased ? Variance::kBiased : Variance::kUnbiased;
  at::Generator g = at::detail::createCPUGenerator(19);
  const at::Tensor x = at::randn({32, 8}, g), gain = at::randn({1, 8}, g), bias = at::randn({1, 8}, g);
  const at::Tensor dout = at::randn({32, 8}, g);
  const auto reference = bn_reference(x, gain, bias, dout, v);
  // The formula of the other convention, fed this convention's normalised values.
  const auto bn = batchnorm_forward(x, gain, bias, v);
  const auto wrong = batchnorm_backward(dout, bn.bnraw, bn.bnvar_inv, gain, other);
  EXPECT_FALSE(at::allclose(wrong, reference));
  EXPECT_GT((wrong - reference).abs().max().item<double>(), 1e-4);
}

TEST_P(BatchNormBackward, TorchBatchNormNormalisesWithTheBiasedVariance) {
  const Variance v = GetParam();
  at::Generator g = at::detail::createCPUGenerator(23);
  const at::Tensor x = at::randn({16, 8}, g), gain = at::randn({1, 8}, g), bias = at::randn({1, 8}, g);
  const at::Tensor dout = at::randn({16, 8}, g);
  const at::Tensor leaf = x.clone().set_requires_grad(true);
  at::batch_norm(leaf, gain.view({-1}), bias.view({-1}), {}, {}, true, 0.1, kBnEps, false).backward(dout);
  const bool matches = at::allclose(bn_closed_form(x, gain, bias, dout, v), leaf.grad());
  EXPECT_EQ(matches, v == Variance::kBiased) << variance_name(v);
}

INSTANTIATE_TEST_SUITE_P(BothConventions, BatchNormBackward, ::testing::Values(Variance::kUnbiased, Variance::kBiased),
                         [](const auto& info) { return variance_name(info.param); });

TEST(FusedBackward, ParameterGradientsMatchAutogradOfTheFusedForward) {
  auto s = synthetic(32, 27, 3, 10, 64, 29);
  s.p.set_requires_grad(true);
  const FusedForward f = fused_forward(s.p, s.Xb, s.Yb);
  f.loss.backward();
  const ParamGrads g = fused_backward(s.p, f, s.Xb, s.Yb).params;
  for (const auto& [name, manual] : g.named()) {
    SCOPED_TRACE(name);
    const at::Tensor* param = nullptr;
    for (const auto& [pname, p] : s.p.named()) {
      if (pname == name) param = p;
    }
    ASSERT_NE(param, nullptr);
    EXPECT_GRAD_ALLCLOSE(manual, param->grad());
  }
}

TEST(Forward, BatchOfOneIsRejected) {
  auto s = synthetic(1, 5, 2, 3, 4, 31);
  EXPECT_THROW(chunked_forward(s.p, s.Xb, s.Yb), InputError);
  EXPECT_THROW(fused_forward(s.p, s.Xb, s.Yb), InputError);
}

}  // namespace
}  // namespace bpn::model
