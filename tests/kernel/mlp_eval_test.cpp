// kernel/mlp_eval.h, the raw-memory evaluation that `train` reports its losses from, held to the
// tensor-op versions (train::calibrate_batchnorm, train::split_loss) by the verdict rule: the same
// computation in float64 is the reference, and the kernel's error must stay within the bound that the
// tensor-op path's own float32 error sets (verify/verdict.h, judge_accuracy). The parameters are taken
// part-way along a run, so that BatchNorm's statistics and the losses are not those of the init.
#include "kernel/mlp_eval.h"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>

#include "models/mlp/trainer.h"
#include "support/names.h"
#include "util/errors.h"
#include "verify/verdict.h"

namespace bpn::kernel {
namespace {

TEST(KernelEval, StatisticsAndLossesAreWithinTheVerdictBoundOfFloat64) {
  BPN_REQUIRE_NAMES(d);
  const train::TrainConfig cfg;
  train::TrainState s = train::init_state(cfg, *d);
  MlpStepKernel k(s.params, cfg.batch_size);
  for (int i = 0; i < 300; ++i) train::kernel_step(s, cfg, d->train, k, nullptr);
  c10::InferenceMode guard;
  // Calibrated over the dev split (22,655 rows: 44 full chunks and a partial one), so that the float64
  // reference stays cheap; `train` calibrates over the training split with the same code.
  const model::Params p64 = s.params.to(at::kDouble);
  const train::BatchNormStats kern = train::kernel_calibrate_batchnorm(s.params, d->dev);
  const train::BatchNormStats ops32 = train::calibrate_batchnorm(s.params, d->dev);
  const train::BatchNormStats ops64 = train::calibrate_batchnorm(p64, d->dev);
  const verify::Accuracy mean = verify::judge_accuracy(kern.bnmean, ops64.bnmean, ops32.bnmean);
  const verify::Accuracy var = verify::judge_accuracy(kern.bnvar, ops64.bnvar, ops32.bnvar);
  EXPECT_TRUE(mean.pass) << "bnmean: " << mean.describe();
  EXPECT_TRUE(var.pass) << "bnvar: " << var.describe();
  RecordProperty("bnmean", mean.describe());
  RecordProperty("bnvar", var.describe());
  for (const auto* split : {&d->dev, &d->test}) {
    // Each path with its own statistics, as `train` runs them; the reference with its float64 ones.
    const double loss = train::kernel_split_loss(s.params, kern, *split);
    const double loss32 = train::split_loss(s.params, ops32, *split);
    const double loss64 = train::split_loss(p64, ops64, *split);
    const verify::Accuracy a =
        verify::judge_accuracy(at::tensor(loss).to(at::kFloat), at::tensor(loss64), at::tensor(loss32).to(at::kFloat));
    RecordProperty(split == &d->dev ? "dev_loss" : "test_loss", a.describe());
    EXPECT_TRUE(a.pass) << split->rows() << " rows: loss " << loss << ", float64 " << loss64 << ": " << a.describe();
  }
}

TEST(KernelEval, EmptySplitIsNaNAndBadIndicesAreRejected) {
  BPN_REQUIRE_NAMES(d);
  const train::TrainState s = train::init_state(train::TrainConfig{}, *d);
  const BatchNormMoments m = calibrate_batchnorm(s.params, d->dev.X);
  EXPECT_TRUE(std::isnan(mean_loss(s.params, m.mean, m.var, d->dev.X.narrow(0, 0, 0), d->dev.Y.narrow(0, 0, 0))));
  at::Tensor X = d->dev.X.narrow(0, 0, 4).clone();
  X[2][1] = 27;
  EXPECT_THROW(calibrate_batchnorm(s.params, X), InputError);
  at::Tensor Y = d->dev.Y.narrow(0, 0, 4).clone();
  Y[3] = -1;
  EXPECT_THROW(mean_loss(s.params, m.mean, m.var, d->dev.X.narrow(0, 0, 4).contiguous(), Y), InputError);
  EXPECT_THROW(calibrate_batchnorm(s.params, d->dev.X.narrow(0, 0, 1).contiguous()), InputError);
}

}  // namespace
}  // namespace bpn::kernel
