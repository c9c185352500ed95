#include "models/mlp/gradcheck.h"

#include <gtest/gtest.h>

#include "support/names.h"

namespace bpn::verify {
namespace {

class Gradcheck : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(Gradcheck, EveryGradientOfBothGraphsMatchesCentralDifferences) {
  BPN_REQUIRE_NAMES(d);
  CheckConfig cfg;
  cfg.dtype = GetParam();
  cfg.n_hidden = 16;  // every element is perturbed twice: keep the suite fast
  cfg.batch_size = 8;
  const GradcheckReport r = run_gradcheck(*d, cfg);
  ASSERT_EQ(r.rows.size(), 26u + 13u);
  for (const auto& row : r.rows) {
    EXPECT_TRUE(row.manual_pass) << row.graph << " " << row.name << ": manual max abs err " << row.manual_abs;
    EXPECT_TRUE(row.autograd_pass) << row.graph << " " << row.name << ": autograd max abs err " << row.autograd_abs;
  }
  EXPECT_TRUE(r.pass);
  EXPECT_TRUE(r.to_json()["pass"].get<bool>());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Gradcheck, ::testing::Values(at::kFloat, at::kDouble),
                         [](const auto& info) { return model::dtype_name(info.param); });

TEST(Gradcheck, ThresholdsAreTighterThanTorchGradcheck) {
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const auto t = gradcheck_tolerance(dtype);
    EXPECT_EQ(t.eps, 1e-6);
    EXPECT_LE(t.atol, 1e-5);
    EXPECT_LE(t.rtol, 1e-3);
  }
}

}  // namespace
}  // namespace bpn::verify
