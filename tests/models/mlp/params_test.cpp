#include "models/mlp/params.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "support/names.h"
#include "util/errors.h"

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

// The training kernel's draw is torch.randint's, number for number, from the same generator state, and
// leaves the generator where torch.randint leaves it: for ranges below and past 2^32 (where ATen takes
// 64 random bits), one row and the notebook's split size, several draws in a row.
TEST(Params, DrawRowsIsTorchRandintFromTheSameGenerator) {
  for (const std::int64_t N : {std::int64_t{1}, std::int64_t{27}, std::int64_t{182625}, (std::int64_t{1} << 32) + 5}) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(2147483647);
    at::Generator h = g.clone();
    at::Tensor ix = at::empty({32}, at::kLong);
    for (int draw = 0; draw < 3; ++draw) {
      draw_rows(g, N, ix);
      const at::Tensor expected = at::randint(0, N, {32}, h, at::kLong);
      ASSERT_TRUE(at::equal(ix, expected))
          << "N " << N << ", draw " << draw << ": " << ix.slice(0, 0, 4) << " vs " << expected.slice(0, 0, 4);
      if (N > 1) {
        EXPECT_GT(std::get<0>(at::_unique(ix)).numel(), 1) << "N " << N;  // not a constant
      }
    }
  }
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1);
  at::Tensor ix = at::empty({4}, at::kLong);
  EXPECT_THROW(draw_rows(g, 0, ix), InputError);
}

}  // namespace
}  // namespace bpn::model
