// makemore's RNN and GRU trained by hand (issue 26): the manual run follows its autograd twin step by
// step, --verify-every accepts the applied gradients and rejects a wrong one, and a checkpoint resumes
// bit-identically and samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "models/rnn/trainer.h"
#include "support/names.h"
#include "support/scratch.h"
#include "util/errors.h"

namespace bpn::train {
namespace {

class RecurrentTraining : public ::testing::TestWithParam<models::Cell> {
 protected:
  RecurrentTrainConfig config() const {
    RecurrentTrainConfig cfg;
    cfg.model.cell = GetParam();
    cfg.model.n_embd = 16;
    cfg.model.n_embd2 = 24;
    cfg.batch_size = 16;
    return cfg;
  }
};

TEST_P(RecurrentTraining, TheManualRunFollowsItsAutogradTwin) {
  BPN_REQUIRE_NAMES(d);
  const RecurrentTrainConfig cfg = config();
  RecurrentState manual = init_recurrent(cfg, *d);
  auto twin = make_recurrent_twin(cfg, *d);
  for (int i = 0; i < 60; ++i) {
    const float a = recurrent_manual_step(manual, cfg), b = recurrent_twin_step(*twin, cfg);
    ASSERT_NEAR(a, b, 1e-4 * std::max(1.0f, std::abs(b))) << "step " << i;
  }
  EXPECT_NEAR(recurrent_split_loss(manual.net, manual.val), recurrent_split_loss(twin->state.net, twin->state.val),
              0.01);
}

TEST_P(RecurrentTraining, VerifyEveryAcceptsTheAppliedGradientsAndRejectsABadOne) {
  BPN_REQUIRE_NAMES(d);
  const RecurrentTrainConfig cfg = config();
  RecurrentState s = init_recurrent(cfg, *d);
  int checked = 0;
  for (int i = 0; i < 3; ++i) {  // the update from a state with m, v and a step count
    recurrent_manual_step(s, cfg, [&](const RecurrentStep& step) {
      const StepCheck good = check_recurrent_step(step);
      EXPECT_TRUE(good.pass) << good.detail;
      models::RecurrentNamed bad = step.grads;
      for (auto& [name, g] : bad) {
        if (name == "start") g = g * (1 + 1e-3) + 1e-6;
      }
      const StepCheck wrong = check_recurrent_step(
          RecurrentStep{step.before, step.X, step.Y, bad, step.after, step.opt_before, step.adamw});
      EXPECT_FALSE(wrong.pass) << "a 1e-3 change in dstart was not seen";
      ++checked;
    });
  }
  EXPECT_EQ(checked, 3);
}

TEST_P(RecurrentTraining, ResumeIsBitIdenticalAndSampleReadsTheCheckpoint) {
  BPN_REQUIRE_NAMES(d);
  const RecurrentTrainConfig cfg = config();
  const auto dir = bpn::testing::scratch_dir("recurrent_resume_" + cfg.model.arch());
  RecurrentState straight = init_recurrent(cfg, *d), first = init_recurrent(cfg, *d);
  for (int i = 0; i < 20; ++i) recurrent_manual_step(straight, cfg);
  for (int i = 0; i < 10; ++i) recurrent_manual_step(first, cfg);
  save_recurrent_checkpoint(dir.string(), first, cfg, *d);
  RecurrentCheckpoint c = load_recurrent_checkpoint(dir.string(), cfg.model.cell);
  RecurrentState resumed = std::move(c.state);
  const data::SequenceSplits splits = data::sequence_splits(*d);
  resumed.train = splits.train;
  resumed.val = splits.val;
  for (int i = 0; i < 10; ++i) recurrent_manual_step(resumed, c.config);
  auto a = straight.net.parameters(), b = resumed.net.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(*a[i].second, *b[i].second)) << a[i].first;
  RecurrentCheckpoint again = load_recurrent_checkpoint(dir.string(), cfg.model.cell);
  const auto names = sample_recurrent(again, 5, 7);
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(names, sample_recurrent(again, 5, 7)) << "the same seed gives the same names";
  // the other cell's checkpoint is bad input
  const models::Cell other = cfg.model.cell == models::Cell::kGru ? models::Cell::kRnn : models::Cell::kGru;
  EXPECT_THROW(load_recurrent_checkpoint(dir.string(), other), InputError);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Cells, RecurrentTraining, ::testing::Values(models::Cell::kRnn, models::Cell::kGru),
                         [](const auto& info) { return info.param == models::Cell::kGru ? "gru" : "rnn"; });

}  // namespace
}  // namespace bpn::train
