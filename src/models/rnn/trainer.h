// Training makemore's RNN and GRU with their hand-derived backward through time and AdamW by hand
// (`train --arch rnn|gru`), and their autograd twin (loss.backward() and torch::optim::AdamW) from the
// same generator.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/sequences.h"
#include "models/rnn/rnn.h"
#include "train/adamw.h"
#include "train/run.h"
#include "verify/report.h"

namespace bpn::train {

struct RecurrentTrainConfig {
  models::RecurrentConfig model;
  std::int64_t batch_size = 32;
  AdamWConfig adamw;  // makemore's: lr 5e-4, betas (0.9, 0.99), eps 1e-8, weight decay 0.01
};

struct RecurrentState {
  models::RecurrentLM net;
  at::Generator g;
  AdamW opt;
  std::int64_t step = 0;
  std::vector<float> losses;
  data::Sequences train, val;  // the notebook's split, one word per sequence
};

RecurrentState init_recurrent(const RecurrentTrainConfig& cfg, const data::Dataset& data);

// One step: a batch from g, the forward, the hand-derived backward through time, AdamW by hand.
// `inspect`, if given, sees the step after its update (for --verify-every). A gradient that is missing
// or not of its parameter's shape is not applied: with `inspect` its rows report it, without it the
// step throws.
struct RecurrentStep {
  const models::RecurrentLM& before;
  const at::Tensor& X;
  const at::Tensor& Y;
  const models::RecurrentNamed& grads;  // the gradients the step applied
  const models::RecurrentLM& after;
  const AdamW& opt_before;  // AdamW's step count, m and v before the update
  AdamWConfig adamw;
};
using RecurrentInspect = std::function<void(const RecurrentStep& step)>;
float recurrent_manual_step(RecurrentState& s, const RecurrentTrainConfig& cfg, const RecurrentInspect& inspect = {});

// The autograd twin: its own model and torch::optim::AdamW, the same batches.
struct RecurrentTwin {
  RecurrentState state;
  std::unique_ptr<torch::optim::AdamW> opt;
};
std::unique_ptr<RecurrentTwin> make_recurrent_twin(const RecurrentTrainConfig& cfg, const data::Dataset& data);
float recurrent_twin_step(RecurrentTwin& twin, const RecurrentTrainConfig& cfg);

double recurrent_split_loss(models::RecurrentLM& net, const data::Sequences& split);

// --verify-every: the applied gradients against autograd of the same parameters and batch, and the
// update ("step:<name>" rows) against torch::optim::AdamW stepped once from the same state.
StepCheck check_recurrent_step(const RecurrentStep& step);

// `check --arch rnn|gru`'s second exercise: step 0 of `train` as it runs, in dtype, verified as
// --verify-every verifies it.
verify::ExerciseReport recurrent_step_exercise(const data::Dataset& data, const RecurrentTrainConfig& cfg,
                                               at::ScalarType dtype);

// ---- Checkpoints: <dir>/checkpoint.safetensors (train/checkpoint_file.h), as the GPT's: every
// parameter under its name, AdamW's m and v under "adamw.exp_avg.<name>" / "adamw.exp_avg_sq.<name>",
// "generator_state", "losses"; __metadata__ arch "rnn" or "gru", config, vocab, train_words, step,
// adamw_steps.
struct RecurrentCheckpoint {
  RecurrentTrainConfig config;
  std::vector<char32_t> vocab;
  std::int64_t train_words = 0;
  std::string data_fingerprint;  // train::data_fingerprint of it; empty in checkpoints written before 2026-12-07
  RecurrentState state;          // without the data splits (attach them from the data set)
};
void save_recurrent_checkpoint(const std::string& dir, const RecurrentState& s, const RecurrentTrainConfig& cfg,
                               const data::Dataset& data);
// `cell`: the model the caller expects (a checkpoint of the other cell is bad input).
RecurrentCheckpoint load_recurrent_checkpoint(const std::string& dir, models::Cell cell);
std::vector<std::string> sample_recurrent(RecurrentCheckpoint& c, std::int64_t count, std::uint64_t seed);

}  // namespace bpn::train
