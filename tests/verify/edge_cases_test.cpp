// Inputs on which backward passes usually break. Each compares every hand-derived gradient, of the
// chunked graph (Exercise 1) and of the fused one (Exercises 2-4), with autograd.
#include <gtest/gtest.h>

#include "cli/cli.h"
#include "models/mlp/backward.h"
#include "models/mlp/check.h"
#include "models/mlp/gradcheck.h"
#include "support/cli_runner.h"
#include "support/names.h"
#include "support/synthetic.h"
#include "util/errors.h"
#include "verify/grad_assert.h"

namespace bpn::verify {
namespace {

using bpn::testing::Synthetic;

// Every manual gradient of both graphs finite and allclose to autograd; in float32 the fused
// graph's closed forms are held to float32 accuracy against float64 instead (see
// bpn::testing::fused_accuracy).
void expect_all_match(Synthetic s) {
  {
    model::ChunkedForward f;
    const auto ref = bpn::testing::chunked_autograd(s.p, f, s.Xb, s.Yb);
    ASSERT_TRUE(std::isfinite(f.loss.item<double>())) << "chunked loss " << f.loss.item<double>();
    for (const auto& [name, manual] : model::chunked_backward(s.p, f, s.Xb, s.Yb).named()) {
      SCOPED_TRACE("chunked " + name);
      EXPECT_TRUE(at::isfinite(manual).all().item<bool>());
      EXPECT_GRAD_ALLCLOSE(manual, ref.at(name));
    }
  }
  {
    model::FusedForward f;
    const auto ref = bpn::testing::fused_autograd(s.p, f, s.Xb, s.Yb);
    ASSERT_TRUE(std::isfinite(f.loss.item<double>())) << "fused loss " << f.loss.item<double>();
    for (const auto& [name, manual] : model::fused_backward(s.p, f, s.Xb, s.Yb).named()) {
      SCOPED_TRACE("fused " + name);
      EXPECT_TRUE(at::isfinite(manual).all().item<bool>());
      if (manual.scalar_type() == at::kDouble) {
        EXPECT_GRAD_ALLCLOSE(manual, ref.at(name));
      }
    }
  }
  {  // The verdict rule, as `check` applies it, on both graphs.
    const auto chunked = bpn::testing::chunked_accuracy(s.p, s.Xb, s.Yb);
    EXPECT_TRUE(chunked.pass) << chunked.detail;
    const auto fused = bpn::testing::fused_accuracy(s.p, s.Xb, s.Yb);
    EXPECT_TRUE(fused.pass) << fused.detail;
  }
}

class EdgeCase : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(EdgeCase, AllLogitsTied) {
  // W2 = 0, b2 = 0: every logit is 0, max() has V tied candidates in every row. dlogit_maxes must
  // go to the index max() returned, as autograd routes it.
  auto s = bpn::testing::synthetic(16, 9, 3, 4, 12, 41, GetParam());
  s.p.W2.zero_();
  s.p.b2.zero_();
  expect_all_match(s);
  model::ChunkedForward f;
  const auto ref = bpn::testing::chunked_autograd(s.p, f, s.Xb, s.Yb);
  const auto manual = model::chunked_backward(s.p, f, s.Xb, s.Yb);
  EXPECT_GRAD_EXACT(manual.dlogits, ref.at("logits"));
}

TEST_P(EdgeCase, HugeLogits) {
  // logits = 1e4 * h[:, 0] + small terms with h[:, 0] saturated at +-1: rows of logits near +1e4 or
  // -1e4. exp(1e4) overflows; the max-subtraction keeps counts in (0, 1] and everything finite.
  auto s = bpn::testing::synthetic(16, 9, 3, 4, 12, 43, GetParam());
  s.p.bngain[0][0] = 50.0;  // tanh saturates
  s.p.W2[0] = 1e4;          // the same huge weight into every logit
  model::ChunkedForward f;
  bpn::testing::chunked_autograd(s.p, f, s.Xb, s.Yb);
  // Every row overflows (exp(x > 709) = inf) or underflows (every exp(x < -745) = 0) without the
  // max-subtraction, even in float64.
  EXPECT_GT(f.logits.abs().min().item<double>(), 1e3);
  EXPECT_TRUE(at::isfinite(f.counts).all().item<bool>());
  EXPECT_LE(f.counts.max().item<double>(), 1.0);
  expect_all_match(s);
}

TEST_P(EdgeCase, AHiddenUnitWithZeroBatchVariance) {
  // W1[:, 0] = 0 makes hprebn[:, 0] = b1[0] in every row: bnvar[0] = 0, and eps keeps bnvar_inv
  // finite (1/sqrt(1e-5)).
  auto s = bpn::testing::synthetic(16, 9, 3, 4, 12, 47, GetParam());
  s.p.W1.select(1, 0).zero_();
  model::ChunkedForward f;
  bpn::testing::chunked_autograd(s.p, f, s.Xb, s.Yb);
  EXPECT_EQ(f.bnvar[0][0].item<double>(), 0.0);
  expect_all_match(s);
}

TEST_P(EdgeCase, OneCharacterFillsEveryContext) {
  // Every context position of every row is the same character: its row of dC accumulates all
  // n*T rows of demb; every other row of dC stays zero.
  auto s = bpn::testing::synthetic(16, 9, 3, 4, 12, 53, GetParam());
  s.Xb.fill_(4);
  expect_all_match(s);
  model::ChunkedForward f;
  const auto ref = bpn::testing::chunked_autograd(s.p, f, s.Xb, s.Yb);
  const auto manual = model::chunked_backward(s.p, f, s.Xb, s.Yb);
  EXPECT_GRAD_EXACT(manual.params.dC, ref.at("C"));  // the same additions in the same order as autograd's
  EXPECT_EQ(at::count_nonzero(manual.params.dC).item<std::int64_t>(),
            at::count_nonzero(manual.params.dC[4]).item<std::int64_t>());
}

TEST_P(EdgeCase, BatchSizeTwo) { expect_all_match(bpn::testing::synthetic(2, 9, 3, 4, 12, 59, GetParam())); }

INSTANTIATE_TEST_SUITE_P(Dtypes, EdgeCase, ::testing::Values(at::kFloat, at::kDouble),
                         [](const auto& info) { return model::dtype_name(info.param); });

TEST(EdgeCase, BatchSizeOneIsRejectedByTheLibrary) {
  auto s = bpn::testing::synthetic(1, 9, 3, 4, 12, 61);
  EXPECT_THROW(model::chunked_forward(s.p, s.Xb, s.Yb), InputError);
  EXPECT_THROW(model::fused_forward(s.p, s.Xb, s.Yb), InputError);
  EXPECT_THROW(model::batchnorm_forward(at::ones({1, 4}), at::ones({1, 4}), at::zeros({1, 4})), InputError);
  const data::Dataset d = data::make_dataset({U"anna", U"bob", U"carl", U"dora", U"emil"}, 3);
  CheckConfig cfg;
  cfg.batch_size = 1;
  EXPECT_THROW(run_check(d, cfg), InputError);
  EXPECT_THROW(run_gradcheck(d, cfg), InputError);
}

TEST(EdgeCase, BatchSizeOneIsRejectedByTheCli) {
  for (const char* command : {"check", "gradcheck", "train"}) {
    const auto r = bpn::testing::run_cli({command, "--batch-size", "1"});
    EXPECT_EQ(r.status, cli::kExitBadInput) << command;
    EXPECT_NE(r.err.find("n-1"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace bpn::verify
