// Training makemore's Transformer with its hand-derived backward and AdamW by hand (`train --arch
// gpt`), and its autograd twin (loss.backward() and torch::optim::AdamW) from the same generator.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <functional>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "models/gpt.h"
#include "train/adamw.h"
#include "train/trainer.h"
#include "verify/gpt_check.h"

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

// `inspect` sees the parameters before the update, the batch and the applied gradients.
using GPTInspect = std::function<void(const models::GPT& before, const at::Tensor& X, const at::Tensor& Y,
                                      const models::Named& grads)>;
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

// --verify-every: the applied gradients against autograd of the same parameters and batch.
StepCheck check_gpt_step(const models::GPT& before, const at::Tensor& X, const at::Tensor& Y,
                         const models::Named& applied);

}  // namespace bpn::train
