// Training makemore's Transformer with its hand-derived backward and AdamW by hand (`train --arch
// gpt`), and its autograd twin (loss.backward() and torch::optim::AdamW) from the same generator.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/gpt/check.h"
#include "models/gpt/gpt.h"
#include "train/adamw.h"
#include "train/run.h"

namespace bpn::train {

struct GPTTrainConfig {
  models::GPTConfig model;
  std::int64_t batch_size = 32;
  AdamWConfig adamw;
};

struct GPTState {
  models::GPT net;
  at::Generator g;
  AdamW opt;
  std::int64_t step = 0;
  std::vector<float> losses;
  verify::Sequences train, val;  // the notebook's split, one word per sequence
};

GPTState init_gpt(const GPTTrainConfig& cfg, const data::Dataset& data);

// One step: a batch from g, the forward, the hand-derived backward, AdamW by hand. `inspect`, if given,
// sees the step after its update (for --verify-every). A gradient that is missing or not of its
// parameter's shape is not applied: with `inspect` its rows report it, without it the step throws.
struct GPTStep {
  const models::GPT& before;  // the parameters the step started from
  const at::Tensor& X;
  const at::Tensor& Y;
  const models::Named& grads;  // the gradients the step applied
  const models::GPT& after;    // the parameters after the update
  const AdamW& opt_before;     // AdamW's step count, m and v before the update
  AdamWConfig adamw;
};
using GPTInspect = std::function<void(const GPTStep& step)>;
float gpt_manual_step(GPTState& s, const GPTTrainConfig& cfg, const GPTInspect& inspect = {});

// The autograd twin: its own model and torch::optim::AdamW, the same batches.
struct GPTTwin {
  GPTState state;
  std::unique_ptr<torch::optim::AdamW> opt;
};
std::unique_ptr<GPTTwin> make_gpt_twin(const GPTTrainConfig& cfg, const data::Dataset& data);
float gpt_twin_step(GPTTwin& twin, const GPTTrainConfig& cfg);
double gpt_twin_val_loss(GPTTwin& twin);

// The masked cross-entropy over a whole split, in chunks of 1,000 words.
double gpt_split_loss(models::GPT& net, const verify::Sequences& split);

// --verify-every: the applied gradients against autograd of the same parameters and batch, and the
// update ("step:<name>" rows) against torch::optim::AdamW stepped once from the same parameters, step
// count, m and v with the applied gradients.
StepCheck check_gpt_step(const GPTStep& step);

// `check --arch gpt`'s second exercise: step 0 of `train --arch gpt` as it runs (the training forward,
// the hand-derived backward, AdamW) from cfg's seed, in dtype, verified as --verify-every verifies it.
verify::ExerciseReport gpt_step_exercise(const data::Dataset& data, const GPTTrainConfig& cfg, at::ScalarType dtype);

// ---- Checkpoints: <dir>/checkpoint.safetensors (train/checkpoint_file.h), written atomically ------
// Tensors: every parameter under its name ("h0.attn.c_attn.weight"), AdamW's m and v under
// "adamw.exp_avg.<name>" and "adamw.exp_avg_sq.<name>" (after the first step), "generator_state",
// "losses". __metadata__: arch "gpt", config (the model and AdamW), vocab, train_words, step,
// adamw_steps.
struct GPTCheckpoint {
  GPTTrainConfig config;
  std::vector<char32_t> vocab;
  std::int64_t train_words = 0;
  std::string data_fingerprint;  // train::data_fingerprint of it; empty in checkpoints written before 2026-12-07
  GPTState state;                // without the data splits (init from the data set: attach_splits)
};
void save_gpt_checkpoint(const std::string& dir, const GPTState& s, const GPTTrainConfig& cfg,
                         const data::Dataset& data);
// Validates the format, every name, shape and dtype against the config; throws bpn::InputError.
GPTCheckpoint load_gpt_checkpoint(const std::string& dir);
// The notebook's split of `data` into s.train and s.val (what init_gpt does).
void attach_splits(GPTState& s, const data::Dataset& data);
// makemore's sampling: from the start token 0, append one character at a time drawn from
// softmax(logits of the last position), with the whole prefix as the context (at most block_size),
// until the model draws 0.
std::vector<std::string> sample_gpt(GPTCheckpoint& c, std::int64_t count, std::uint64_t seed);

}  // namespace bpn::train
