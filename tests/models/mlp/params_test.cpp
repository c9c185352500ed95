#include "models/mlp/params.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "support/names.h"

namespace bpn::model {
namespace {

TEST(Params, NotebookSizesGive4137Parameters) {
  ModelConfig cfg;  // vocab 27, n_embd 10, n_hidden 64, block 3
  EXPECT_EQ(init_params(cfg).params.numel(), 4137);
}

TEST(Params, DrawsFollowGeneratorGInTheNotebooksOrder) {
  ModelConfig cfg;
  auto [p, g] = init_params(cfg);
  at::Generator fresh = at::detail::createCPUGenerator(kNotebookSeed);
  EXPECT_TRUE(at::equal(p.C, at::randn({27, 10}, fresh)));
  EXPECT_TRUE(at::equal(p.W1, at::randn({30, 64}, fresh) * (5.0 / 3.0) / std::pow(30.0, 0.5)));
  EXPECT_TRUE(at::equal(p.b1, at::randn({64}, fresh)));  // unscaled, as the notebook has it
  EXPECT_TRUE(at::equal(p.W2, at::randn({64, 27}, fresh) * 0.1));
  EXPECT_TRUE(at::equal(p.b2, at::randn({27}, fresh) * 0.1));
  // g continues exactly where the parameter draws left it.
  EXPECT_TRUE(at::equal(at::randint(0, 1000, {8}, g, at::kLong), at::randint(0, 1000, {8}, fresh, at::kLong)));
}

TEST(Params, BatchNormParametersComeFromASecondGenerator) {
  ModelConfig cfg;
  auto [p, g] = init_params(cfg);
  at::Generator g2 = at::detail::createCPUGenerator(kNotebookSeed + 1);
  EXPECT_TRUE(at::equal(p.bngain, at::randn({1, 64}, g2) * 0.1 + 1.0));
  EXPECT_TRUE(at::equal(p.bnbias, at::randn({1, 64}, g2) * 0.1));
  EXPECT_EQ(p.bngain.sizes(), (at::IntArrayRef{1, 64}));
}

TEST(Params, Float64IsTheSameDrawConverted) {
  ModelConfig f32, f64;
  f64.dtype = at::kDouble;
  const auto a = init_params(f32).params, b = init_params(f64).params;
  EXPECT_EQ(b.W1.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::equal(a.W1.to(at::kDouble), b.W1));
}

TEST(Params, NotebookBatchHasYb0Equal8) {
  BPN_REQUIRE_NAMES(d);
  ModelConfig cfg;
  auto [p, g] = init_params(cfg);
  const Batch b = draw_batch(d->train.X, d->train.Y, 32, g);
  EXPECT_EQ(b.Yb[0].item<std::int64_t>(), 8);  // the notebook printed tensor(8)
  EXPECT_EQ(b.Xb.sizes(), (at::IntArrayRef{32, 3}));
}

}  // namespace
}  // namespace bpn::model
