// The hand-derived backward functions, one property at a time, on synthetic batches.
// (The notebook's own batch is checked in tests/verify/check_test.cpp.)
#include "models/mlp/backward.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <array>
#include <map>

#include "support/synthetic.h"
#include "util/errors.h"
#include "verify/environment.h"
#include "verify/grad_assert.h"

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

namespace bpn::model {
namespace {

// The CPU loops of the training step against the tensor-op versions of the same formulas (which
// are what runs on other devices), both dtypes, several shapes.
class LoopsMatchOps : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(LoopsMatchOps, CrossEntropyBatchNormForwardAndBackward) {
  at::Generator g = at::detail::createCPUGenerator(71);
  const auto opt = at::TensorOptions().dtype(GetParam());
  at::NoGradGuard no_grad;
  for (auto [n, H, V] : std::vector<std::array<std::int64_t, 3>>{{2, 1, 2}, {3, 5, 4}, {32, 200, 27}, {57, 13, 9}}) {
    SCOPED_TRACE("n " + std::to_string(n) + ", H " + std::to_string(H) + ", V " + std::to_string(V));
    const at::Tensor logits = at::randn({n, V}, g, opt) * 3, Yb = at::randint(0, V, {n}, g, at::kLong);
    EXPECT_GRAD_ALLCLOSE(cross_entropy_backward(logits, Yb), cross_entropy_backward_ops(logits, Yb));
    const at::Tensor x = at::randn({n, H}, g, opt) * 2 + 1, gain = at::randn({1, H}, g, opt) + 1,
                     bias = at::randn({1, H}, g, opt), dy = at::randn({n, H}, g, opt) / static_cast<double>(n);
    for (Variance v : {Variance::kUnbiased, Variance::kBiased}) {
      const auto loop = batchnorm_forward(x, gain, bias, v), ops = batchnorm_forward_ops(x, gain, bias, v);
      EXPECT_GRAD_ALLCLOSE(loop.bnmean, ops.bnmean);
      EXPECT_GRAD_ALLCLOSE(loop.bnvar, ops.bnvar);
      EXPECT_GRAD_ALLCLOSE(loop.bnvar_inv, ops.bnvar_inv);
      // bnraw = (x - mean) * bnvar_inv loses relative accuracy where x is close to the mean (the two
      // means are summed in different orders): allclose in float64, in float32 within rounding of
      // the terms' scale.
      if (GetParam() == at::kDouble) {
        EXPECT_GRAD_ALLCLOSE(loop.bnraw, ops.bnraw);
        EXPECT_GRAD_ALLCLOSE(loop.hpreact, ops.hpreact);
      } else {
        const double raw_scale = x.abs().max().item<double>() * ops.bnvar_inv.max().item<double>();
        const double bound = 8.0 * n * 1.2e-7 * raw_scale;
        EXPECT_LE((loop.bnraw - ops.bnraw).abs().max().item<double>(), bound);
        EXPECT_LE((loop.hpreact - ops.hpreact).abs().max().item<double>(),
                  bound * gain.abs().max().item<double>() + 1.2e-7 * ops.hpreact.abs().max().item<double>());
      }
      const auto gl = batchnorm_layer_backward(dy, ops.bnraw, ops.bnvar_inv, gain, v);
      const auto go = batchnorm_layer_backward_ops(dy, ops.bnraw, ops.bnvar_inv, gain, v);
      EXPECT_GRAD_ALLCLOSE(gl.dbngain, go.dbngain);
      EXPECT_GRAD_ALLCLOSE(gl.dbnbias, go.dbnbias);
      // dhprebn is a difference of much larger terms (docs/derivations.md#float32-and-allclose):
      // allclose in float64; in float32 within rounding of the terms' scale.
      if (GetParam() == at::kDouble) {
        EXPECT_GRAD_ALLCLOSE(gl.dhprebn, go.dhprebn);
      } else {
        const double scale = (gain.abs() * ops.bnvar_inv).max().item<double>() * dy.abs().max().item<double>();
        EXPECT_LE((gl.dhprebn - go.dhprebn).abs().max().item<double>(), 8.0 * n * 1.2e-7 * scale);
      }
    }
  }
}

TEST(LoopsMatchOps, TargetOutOfRangeIsRejected) {
  at::NoGradGuard no_grad;
  EXPECT_THROW(cross_entropy_backward(at::zeros({2, 3}), at::tensor({0, 3}, at::kLong)), std::out_of_range);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LoopsMatchOps, ::testing::Values(at::kFloat, at::kDouble),
                         [](const auto& info) { return dtype_name(info.param); });

}  // namespace
}  // namespace bpn::model
