// Exercise 4: the manual training step, checkpoints, resume, determinism, sampling.
#include "models/mlp/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "cli/cli.h"
#include "models/mlp/checkpoint.h"
#include "support/cli_runner.h"
#include "support/names.h"
#include "support/scratch.h"
#include "train/sample.h"
#include "util/errors.h"
#include "verify/grad_assert.h"
#include "verify/verdict.h"

namespace bpn::train {
namespace {

namespace fs = std::filesystem;

using bpn::testing::run_cli;

fs::path trainer_scratch(const std::string& name) { return bpn::testing::scratch_dir("train_" + name); }

TrainConfig small_config() {
  TrainConfig cfg;
  cfg.n_hidden = 64;
  cfg.decay_step = 150;
  return cfg;
}

void expect_params_bit_equal(const model::Params& a, const model::Params& b) {
  const auto na = a.named(), nb = b.named();
  for (std::size_t i = 0; i < na.size(); ++i) {
    SCOPED_TRACE(na[i].first);
    EXPECT_GRAD_EXACT(*na[i].second, *nb[i].second);
  }
}

TEST(ManualStep, BuildsNoAutogradGraph) {
  BPN_REQUIRE_NAMES(d);
  const TrainConfig cfg = small_config();
  TrainState s = init_state(cfg, *d);
  int inspected = 0;
  manual_step(s, cfg, d->train, [&](const StepTensors& t) {
    ++inspected;
    const auto& f = t.forward;
    for (const at::Tensor& x : {f.emb, f.embcat, f.hprebn, f.bn.hpreact, f.bn.bnraw, f.bn.bnvar_inv, f.bn.bnmean,
                                f.bn.bnvar, f.h, f.logits, f.loss}) {
      EXPECT_FALSE(x.requires_grad());
      EXPECT_FALSE(x.grad_fn());
    }
    for (const auto& [name, g] : t.grads.named()) {
      EXPECT_FALSE(g.requires_grad()) << name;
      EXPECT_FALSE(g.grad_fn()) << name;
    }
  });
  EXPECT_EQ(inspected, 1);
  for (const auto& [name, p] : s.params.named()) {
    EXPECT_FALSE(p->requires_grad()) << name;
    EXPECT_FALSE(p->grad_fn()) << name;
    EXPECT_FALSE(p->grad().defined()) << name;
  }
}

// The gradients the manual step applies, not the parameters after an lr-0.1 update (which would hide
// a 1e-4 gradient error): the update of one manual step and one autograd step from the same state,
// divided by -lr, judged by the verdict rule against the float64 autograd step.
TEST(ManualStep, AppliesTheGradientsOfAnAutogradStepFromTheSameState) {
  BPN_REQUIRE_NAMES(d);
  TrainConfig cfg = small_config();
  TrainState manual = init_state(cfg, *d), autograd32 = init_state(cfg, *d);
  TrainConfig cfg64 = cfg;
  cfg64.dtype = at::kDouble;
  TrainState autograd64 = init_state(cfg64, *d);
  const model::Params start = manual.params;
  std::vector<at::Tensor> before;
  for (const auto& [name, p] : start.named()) before.push_back(p->clone());
  manual_step(manual, cfg, d->train);
  autograd_step(autograd32, cfg, d->train);
  autograd_step(autograd64, cfg64, d->train);
  const auto m = manual.params.named(), a32 = autograd32.params.named(), a64 = autograd64.params.named();
  for (std::size_t i = 0; i < m.size(); ++i) {
    SCOPED_TRACE(m[i].first);
    auto grad = [&](const at::Tensor& after) { return (after.to(at::kDouble) - before[i].to(at::kDouble)) / -cfg.lr; };
    // Judged as float32 (the run's dtype): the derived gradients carry the update's rounding, u|p|/lr.
    const verify::Accuracy acc = verify::judge_accuracy(grad(*m[i].second).to(at::kFloat), grad(*a64[i].second),
                                                        grad(*a32[i].second).to(at::kFloat));
    EXPECT_TRUE(acc.pass) << acc.describe();
  }
}

// The step's record, checked as --verify-every checks it, passes; the same record with one
// gradient 1e-4 off fails.
TEST(CheckStep, PassesOnTheLecturesModelAndCatchesASmallGradientError) {
  BPN_REQUIRE_NAMES(d);
  const TrainConfig cfg;  // n_hidden 200
  TrainState s = init_state(cfg, *d);
  verify::StepRecord record;
  manual_step(s, cfg, d->train, {}, model::hand_derived(), &record);
  const StepCheck ok = check_step(record);
  EXPECT_TRUE(ok.pass) << ok.detail;
  EXPECT_LT(ok.worst_ratio, 1.0);
  record.grads.params.dW2 = record.grads.params.dW2 * (1 + 1e-4);
  const StepCheck bad = check_step(record);
  EXPECT_FALSE(bad.pass);
  EXPECT_NE(bad.detail.find("W2"), std::string::npos) << bad.detail;
}

TEST(ManualStep, ManyStepsLowerTheLoss) {
  BPN_REQUIRE_NAMES(d);
  const TrainConfig cfg = small_config();
  TrainState s = init_state(cfg, *d);
  const double before = split_loss(s.params, calibrate_batchnorm(s.params, d->train), d->dev);
  for (int i = 0; i < 2000; ++i) manual_step(s, cfg, d->train);
  const double after = split_loss(s.params, calibrate_batchnorm(s.params, d->train), d->dev);
  EXPECT_LT(after, before - 0.5) << "dev loss " << before << " -> " << after;
  EXPECT_LT(after, 2.6);
}

TEST(ManualStep, SameSeedGivesBitIdenticalParameters) {
  BPN_REQUIRE_NAMES(d);
  const TrainConfig cfg = small_config();
  TrainState a = init_state(cfg, *d), b = init_state(cfg, *d);
  for (int i = 0; i < 300; ++i) {
    manual_step(a, cfg, d->train);
    manual_step(b, cfg, d->train);
  }
  expect_params_bit_equal(a.params, b.params);
  EXPECT_EQ(a.losses, b.losses);
}

TEST(LossCurve, AveragesLog10PerChunkWithAPartialLastChunk) {
  const std::vector<float> losses{10.f, 100.f, 1000.f, 1.f, 10.f};
  const auto curve = loss_curve(losses, 2);
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_DOUBLE_EQ(curve[0].mean_log10_loss, 1.5);
  EXPECT_DOUBLE_EQ(curve[1].mean_log10_loss, 1.5);
  EXPECT_EQ(curve[2].first_step, 4);
  EXPECT_EQ(curve[2].last_step, 4);
  EXPECT_DOUBLE_EQ(curve[2].mean_log10_loss, 1.0);
}

// ---- Checkpoints ----------------------------------------------------------------------------

Checkpoint small_checkpoint(const data::Dataset& d, int steps) {
  const TrainConfig cfg = small_config();
  Checkpoint c;
  c.config = cfg;
  c.vocab = d.vocab.itos;
  c.block_size = d.block_size;
  c.train_rows = d.train.rows();
  c.state = init_state(cfg, d);
  for (int i = 0; i < steps; ++i) manual_step(c.state, cfg, d.train);
  c.bn = calibrate_batchnorm(c.state.params, d.train);
  return c;
}

TEST(Checkpoint, RoundTripsEverythingIncludingTheGeneratorState) {
  BPN_REQUIRE_NAMES(d);
  Checkpoint c = small_checkpoint(*d, 10);
  const Checkpoint back = parse_checkpoint(serialize_checkpoint(c), "mem");
  expect_params_bit_equal(c.state.params, back.state.params);
  EXPECT_EQ(back.state.step, 10);
  EXPECT_EQ(back.state.losses, c.state.losses);
  EXPECT_EQ(back.vocab, c.vocab);
  EXPECT_TRUE(at::equal(back.bn.bnvar, c.bn.bnvar));
  at::Generator g = back.state.g;
  EXPECT_TRUE(
      at::equal(at::randint(0, 1 << 30, {16}, c.state.g, at::kLong), at::randint(0, 1 << 30, {16}, g, at::kLong)));
}

TEST(Checkpoint, AMidRunCheckpointHasNoBatchNormStatistics) {
  BPN_REQUIRE_NAMES(d);
  Checkpoint c = small_checkpoint(*d, 3);
  c.bn = {};
  const Checkpoint back = parse_checkpoint(serialize_checkpoint(c), "mem");
  EXPECT_FALSE(back.calibrated());
  EXPECT_EQ(back.state.step, 3);
  EXPECT_THROW(sample_names(back, 1, 1), InputError);
}

TEST(Checkpoint, TruncatedCorruptAndForeignFilesAreRejected) {
  BPN_REQUIRE_NAMES(d);
  const std::string good = serialize_checkpoint(small_checkpoint(*d, 2));
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, std::size_t{20}, good.size() / 2, good.size() - 1}) {
    EXPECT_THROW(parse_checkpoint(good.substr(0, cut), "t"), InputError) << "cut at " << cut;
  }
  for (std::size_t at : {std::size_t{3}, std::size_t{9}, std::size_t{30}, good.size() / 2, good.size() - 3}) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    EXPECT_THROW(parse_checkpoint(flipped, "t"), InputError) << "flip at " << at;
  }
  EXPECT_THROW(parse_checkpoint("name,loss\nanna,1\n", "t"), InputError);
  EXPECT_THROW(parse_checkpoint(std::string(4096, '\0'), "t"), InputError);
}

TEST(Checkpoint, AConfigurationThatDoesNotMatchItsTensorsIsRejected) {
  BPN_REQUIRE_NAMES(d);
  Checkpoint c = small_checkpoint(*d, 1);
  c.config.n_hidden = 100;                            // the tensors are 64 wide
  const std::string bytes = serialize_checkpoint(c);  // a consistent checksum over inconsistent content
  try {
    parse_checkpoint(bytes, "t");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
}

// ---- The CLI ----------------------------------------------------------------------------------

TEST(TrainCli, ShortRunLowersTheLossAndPassesVerifyEvery) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = trainer_scratch("short");
  const auto r = run_cli({"train", "--data", bpn::testing::names_path(), "--steps", "2000", "--verify-every", "200",
                          "--out", (dir / "run").string(), "--json", (dir / "r.json").string()});
  ASSERT_EQ(r.status, cli::kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("verified 10 steps (forward loops, applied gradients, update) against autograd"),
            std::string::npos)
      << r.out;
  std::ifstream in(dir / "r.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_LT(j["train_loss"].get<double>(), 2.7);
  EXPECT_LT(j["dev_loss"].get<double>(), 2.7);
  EXPECT_EQ(j["steps"].get<int>(), 2000);
  EXPECT_EQ(j["verify"]["steps_checked"].get<int>(), 10);
  for (const char* f : {"checkpoint.safetensors", "loss.csv", "loss.png"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "run")) ++files;
  EXPECT_EQ(files, 3u) << "temporary files were left behind";
  // The loss curve: 2 points of log10(loss), falling.
  std::ifstream csv(dir / "run" / "loss.csv");
  std::string header, first, second;
  std::getline(csv, header);
  std::getline(csv, first);
  std::getline(csv, second);
  EXPECT_EQ(header, "first_step,last_step,mean_log10_loss");
  EXPECT_GT(std::stod(first.substr(first.rfind(',') + 1)), std::stod(second.substr(second.rfind(',') + 1)));

  const auto s = run_cli({"sample", "--model", (dir / "run").string(), "-n", "5"});
  ASSERT_EQ(s.status, cli::kExitOk) << s.err;
  EXPECT_EQ(std::count(s.out.begin(), s.out.end(), '\n'), 5);
  EXPECT_EQ(s.out, run_cli({"sample", "--model", (dir / "run").string(), "-n", "5"}).out) << "sampling is seeded";
  for (char ch : s.out) EXPECT_TRUE(ch == '\n' || (ch >= 'a' && ch <= 'z')) << s.out;
}

TEST(TrainCli, ResumeGivesTheParametersOfAnUninterruptedRun) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = trainer_scratch("resume");
  const std::string data = bpn::testing::names_path();
  // The learning rate drops at step 300, after the interruption at step 200.
  const std::vector<std::string> common = {"--data", data, "--n-hidden", "64", "--decay-step", "300"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"train"};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(run_cli(args({"--steps", "400", "--out", (dir / "straight").string()})).status, cli::kExitOk);
  ASSERT_EQ(run_cli(args({"--steps", "200", "--out", (dir / "split").string()})).status, cli::kExitOk);
  const auto resumed = run_cli({"train", "--data", data, "--steps", "400", "--resume", (dir / "split").string(),
                                "--out", (dir / "split").string()});
  ASSERT_EQ(resumed.status, cli::kExitOk) << resumed.err;
  EXPECT_NE(resumed.out.find("resuming from step 200"), std::string::npos);
  const Checkpoint a = load_checkpoint((dir / "straight").string()), b = load_checkpoint((dir / "split").string());
  EXPECT_EQ(b.state.step, 400);
  expect_params_bit_equal(a.state.params, b.state.params);
  EXPECT_EQ(a.state.losses, b.state.losses);
}

TEST(TrainCli, DivergenceStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  BPN_REQUIRE_NAMES(d);
  // lr 1e25 overflows the parameters in the first update (BatchNorm keeps the loss finite far
  // beyond that: lr 1e20 still trains to a finite, if useless, loss).
  const fs::path dir = trainer_scratch("nan");
  const auto r = run_cli({"train", "--data", bpn::testing::names_path(), "--n-hidden", "64", "--steps", "20", "--lr",
                          "1e25", "--checkpoint-every", "1", "--out", (dir / "run").string()});
  EXPECT_EQ(r.status, cli::kExitCheckFailed) << r.out << r.err;
  EXPECT_TRUE(r.err.find("NaN") != std::string::npos || r.err.find("Inf") != std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // The checkpoint on disk is the one the message names, and it is good: finite parameters and losses.
  const Checkpoint c = load_checkpoint((dir / "run").string());
  EXPECT_NE(r.err.find("last good checkpoint, step " + std::to_string(c.state.step) + ","), std::string::npos) << r.err;
  EXPECT_LT(c.state.step, 20);
  EXPECT_TRUE(all_finite(c.state.params));
  for (float loss : c.state.losses) EXPECT_TRUE(std::isfinite(loss));
  // A mid-run checkpoint is for --resume: it has no BatchNorm statistics to sample with.
  EXPECT_FALSE(c.calibrated());
  const auto s = run_cli({"sample", "--model", (dir / "run").string()});
  EXPECT_EQ(s.status, cli::kExitBadInput);
  EXPECT_NE(s.err.find("no BatchNorm statistics"), std::string::npos) << s.err;
}

// RunGuard's lines for the cases the CLI tests cannot reach cheaply: a run resumed from another
// directory that diverges before writing its own checkpoint, and parameters that overflow.
TEST(RunGuard, NamesTheResumedCheckpointTheLearningRateAndTheParameter) {
  RunGuard guard("runs/new", "runs/old", 200);
  EXPECT_EQ(guard.where_last_good(), "the last good checkpoint, step 200, is in runs/old");
  at::Tensor inf = at::full({2}, std::numeric_limits<float>::infinity());
  try {  // before any step there is no learning rate to name
    guard.save(200, {{"C", &inf}}, [] {});
    ADD_FAILURE() << "non-finite parameters must not be saved";
  } catch (const TrainingFailure& e) {
    EXPECT_EQ(std::string(e.what()),
              "the parameters became Inf or NaN by step 200 (C); the last good checkpoint, step 200, is in runs/old; "
              "lower --lr");
  }
  EXPECT_NO_THROW(guard.check_loss(2.5f, 200, 0.01));
  try {
    guard.check_loss(std::numeric_limits<float>::infinity(), 201, 0.01);
    ADD_FAILURE() << "an Inf loss must stop the run";
  } catch (const TrainingFailure& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "the loss became Inf at step 201 (lr 0.01); the last good checkpoint, step 200, is in runs/old; lower --lr");
  }
  at::Tensor good = at::ones({2}), bad = at::full({2}, std::nan(""));
  int writes = 0;
  guard.save(210, {{"W1", &good}}, [&] { ++writes; });
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(guard.where_last_good(), "the last good checkpoint, step 210, is in runs/new");
  try {
    guard.save(220, {{"W1", &good}, {"b2", &bad}}, [&] { ++writes; });
    ADD_FAILURE() << "non-finite parameters must not be saved";
  } catch (const TrainingFailure& e) {
    EXPECT_EQ(std::string(e.what()),
              "the parameters became Inf or NaN by step 220 (b2, lr 0.01); the last good checkpoint, step 210, is in "
              "runs/new; lower --lr");
  }
  EXPECT_EQ(writes, 1);
  RunGuard no_out("");
  no_out.save(5, {{"b2", &bad}}, [&] { ++writes; });  // no --out: nothing checked, nothing written
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(no_out.where_last_good(), "no checkpoint was written (use --out DIR)");
}

TEST(TrainCli, NanLossWithoutOutSaysNoCheckpointWasWritten) {
  BPN_REQUIRE_NAMES(d);
  const auto r =
      run_cli({"train", "--data", bpn::testing::names_path(), "--n-hidden", "64", "--steps", "20", "--lr", "1e25"});
  EXPECT_EQ(r.status, cli::kExitCheckFailed) << r.err;
  EXPECT_NE(r.err.find("the loss became NaN at step 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no checkpoint was written"), std::string::npos) << r.err;
}

TEST(TrainCli, BadOptionsAndCheckpointsExitTwo) {
  const fs::path dir = trainer_scratch("bad");
  for (const auto& args : std::vector<std::vector<std::string>>{{"train", "--steps", "-1"},
                                                                {"train", "--lr", "0"},
                                                                {"train", "--lr", "nan"},
                                                                {"train", "--batch-size", "1"},
                                                                {"train", "--n-hidden", "1.5"},
                                                                {"train", "--verify-every", "-3"},
                                                                {"train", "--resume", dir.string(), "--n-hidden", "10"},
                                                                {"train", "--json", "/nonexistent-dir/r.json"},
                                                                {"sample", "--model", dir.string()},
                                                                {"sample", "--model", dir.string(), "-n", "0"},
                                                                {"sample"}}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, cli::kExitBadInput) << args[1] << " " << (args.size() > 2 ? args[2] : "") << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  std::ofstream(dir / "checkpoint.bpn") << "not a checkpoint";  // the legacy format's file
  auto r = run_cli({"sample", "--model", dir.string()});
  EXPECT_EQ(r.status, cli::kExitBadInput);
  EXPECT_NE(r.err.find("not a bpninja checkpoint"), std::string::npos) << r.err;
  std::ofstream(dir / "checkpoint.safetensors") << "not a checkpoint";
  r = run_cli({"sample", "--model", dir.string()});
  EXPECT_EQ(r.status, cli::kExitBadInput);
  EXPECT_NE(r.err.find("checkpoint.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// Checkpoints written before safetensors (checkpoint.bpn) still load: sample reads them, and a run
// resumed from one continues bit-identically and writes safetensors.
TEST(TrainCli, LegacyCheckpointsStillLoadAndResumeIntoSafetensors) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = trainer_scratch("legacy");
  const std::string data = bpn::testing::names_path();
  ASSERT_EQ(
      run_cli({"train", "--data", data, "--n-hidden", "8", "--steps", "40", "--out", (dir / "a").string()}).status,
      cli::kExitOk);
  ASSERT_EQ(
      run_cli({"train", "--data", data, "--n-hidden", "8", "--steps", "20", "--out", (dir / "b").string()}).status,
      cli::kExitOk);
  // b's checkpoint, rewritten in the old format under the old name.
  const train::Checkpoint b = train::load_checkpoint((dir / "b").string());
  fs::remove(dir / "b" / "checkpoint.safetensors");
  std::ofstream(dir / "b" / "checkpoint.bpn", std::ios::binary) << train::serialize_legacy_checkpoint(b);
  const train::Checkpoint legacy = train::load_checkpoint((dir / "b").string());
  EXPECT_EQ(legacy.state.step, 20);
  EXPECT_TRUE(at::equal(legacy.state.params.W1, b.state.params.W1));
  EXPECT_EQ(run_cli({"sample", "--model", (dir / "b").string(), "-n", "2"}).status, cli::kExitOk);
  ASSERT_EQ(run_cli({"train", "--data", data, "--steps", "40", "--resume", (dir / "b").string(), "--out",
                     (dir / "c").string()})
                .status,
            cli::kExitOk);
  const train::Checkpoint a = train::load_checkpoint((dir / "a").string()),
                          c = train::load_checkpoint((dir / "c").string());
  EXPECT_TRUE(fs::exists(dir / "c" / "checkpoint.safetensors"));
  EXPECT_EQ(train::serialize_checkpoint(a), train::serialize_checkpoint(c))
      << "the run resumed from the legacy checkpoint is not bit-identical to the uninterrupted one";
}

// --verify-every that would check no step of the run is bad input, said before training: here a run
// resumed at step 5 that stops at 8 contains no multiple of 10 (fresh runs always check step 0).
TEST(TrainCli, VerifyEveryThatChecksNoStepIsRejectedBeforeTraining) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = trainer_scratch("verify_none");
  const std::string data = bpn::testing::names_sample_path();  // the property holds for any data
  for (const std::string arch : {"mlp", "wavenet", "gpt"}) {
    const fs::path run = dir / arch;
    std::vector<std::string> args = {"train", "--arch", arch, "--data", data, "--steps", "5", "--out", run.string()};
    if (arch == "gpt") args.insert(args.end(), {"--n-layer", "1", "--n-embd", "16", "--batch-size", "4"});
    ASSERT_EQ(run_cli(args).status, cli::kExitOk) << arch;
    const std::string before = [&] {
      std::ifstream in(run / "checkpoint.safetensors", std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(in)), {});
    }();
    const auto r = run_cli({"train", "--data", data, "--steps", "8", "--verify-every", "10", "--resume", run.string(),
                            "--out", run.string()});
    EXPECT_EQ(r.status, cli::kExitBadInput) << arch << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("--verify-every 10 checks no step of this run"), std::string::npos) << arch << ": " << r.err;
    std::ifstream in(run / "checkpoint.safetensors", std::ios::binary);
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), before) << arch << ": the checkpoint changed";
  }
}

TEST(TrainCli, ResumeOnOtherDataIsRejected) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = trainer_scratch("otherdata");
  ASSERT_EQ(run_cli({"train", "--data", bpn::testing::names_path(), "--n-hidden", "8", "--steps", "10", "--out",
                     (dir / "run").string()})
                .status,
            cli::kExitOk);
  std::ofstream(dir / "words.txt") << "anna\nbob\ncarl\ndora\nemil\nfred\n";
  const auto r =
      run_cli({"train", "--data", (dir / "words.txt").string(), "--steps", "20", "--resume", (dir / "run").string()});
  EXPECT_EQ(r.status, cli::kExitBadInput);
  EXPECT_NE(r.err.find("other data"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bpn::train
