// Exercise 4: training with the hand-derived backward pass only.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "kernel/mlp_kernel.h"
#include "models/mlp/backward.h"
#include "models/mlp/backward_table.h"
#include "models/mlp/check.h"
#include "models/mlp/forward.h"
#include "models/mlp/params.h"
#include "train/run.h"

namespace bpn::train {

// Defaults are the lecture's run.
struct TrainConfig {
  std::int64_t n_embd = 10;
  std::int64_t n_hidden = 200;
  std::int64_t batch_size = 32;
  std::uint64_t seed = model::kNotebookSeed;
  double lr = 0.1;
  double lr_decayed = 0.01;
  std::int64_t decay_step = 100000;  // lr for step < decay_step, lr_decayed from it on
  at::ScalarType dtype = at::kFloat;

  double lr_at(std::int64_t step) const { return step < decay_step ? lr : lr_decayed; }
  model::ModelConfig model_config(const data::Dataset& data) const;
  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);  // throws bpn::InputError
};

// Everything a run needs to continue bit-identically: parameters, g's state, the step, the losses.
struct TrainState {
  model::Params params;
  at::Generator g;
  std::int64_t step = 0;      // steps done
  std::vector<float> losses;  // the loss of every step done (lossi)
};

TrainState init_state(const TrainConfig& cfg, const data::Dataset& data);

// What one manual step computed; exposed so that tests can check no autograd graph exists.
struct StepTensors {
  model::Batch batch;
  model::FusedForward forward;
  model::FusedGrads grads;
};

// One SGD step: draw a batch from g, fused forward, hand-derived backward, p -= lr * grad, every
// function through `table` (the hand-derived one unless a test or a mutant says otherwise).
// Runs under InferenceMode: no graph is recorded and the parameters never require grad.
// Returns the step's loss. `inspect`, if given, sees the step's tensors before the update.
// `record`, if given, receives what the step did (parameters before and after, batch, forward,
// applied gradients, lr) for verify::verify_step; the step then copies the parameters once.
float manual_step(TrainState& state, const TrainConfig& cfg, const data::Split& train,
                  const std::function<void(const StepTensors&)>& inspect = {},
                  const model::BackwardTable& table = model::hand_derived(), verify::StepRecord* record = nullptr);

// The same step through the raw-memory kernel (kernel/mlp_kernel.h, float32 on the CPU): the same
// batch draw, the same math, what `train` runs by default. `record` as above (the kernel's own
// forward and gradients, for --verify-every).
float kernel_step(TrainState& state, const TrainConfig& cfg, const data::Split& train, kernel::MlpStepKernel& k,
                  verify::StepRecord* record = nullptr);

// The same step with autograd computing the gradients (the baseline of the benchmark).
float autograd_step(TrainState& state, const TrainConfig& cfg, const data::Split& train);

// --verify-every: what a recorded step applied, judged by the verdict rule (verify::verify_step): the
// loop forward against the op forward, every applied gradient against autograd of the same parameters
// and batch, and the update against p - lr * grad. Safe to call between steps (it turns autograd back
// on locally).
StepCheck check_step(const verify::StepRecord& record);

bool all_finite(const model::Params& params);

// BatchNorm statistics over a whole split (mean and unbiased variance of hprebn), as the lecture
// calibrates them after training.
struct BatchNormStats {
  at::Tensor bnmean;  // [1, H]
  at::Tensor bnvar;   // [1, H]
};
BatchNormStats calibrate_batchnorm(const model::Params& params, const data::Split& split);

// Cross-entropy over a whole split with fixed BatchNorm statistics (inference). NaN if the split is empty.
double split_loss(const model::Params& params, const BatchNormStats& stats, const data::Split& split);

// The same two on raw memory (kernel/mlp_eval.h), float32 parameters only: what `train` reports on its
// default (kernel) path, ~4x faster (docs/performance.md). The tensor-op versions above are their reference.
BatchNormStats kernel_calibrate_batchnorm(const model::Params& params, const data::Split& split);
double kernel_split_loss(const model::Params& params, const BatchNormStats& stats, const data::Split& split);

// The logits for given contexts [m, block_size] with fixed BatchNorm statistics.
at::Tensor inference_logits(const model::Params& params, const BatchNormStats& stats, const at::Tensor& X);

}  // namespace bpn::train
