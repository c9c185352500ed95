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
#include "models/mlp/forward.h"
#include "models/mlp/params.h"
#include "verify/check.h"

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

// --verify-every: what a recorded step applied, judged by the verdict rule (verify::verify_step):
// the loop forward against the op forward, every applied gradient against autograd of the same
// parameters and batch (float32 runs against float64 autograd, bounded by float32 autograd's own
// error), and the update against p - lr * grad. See README "The verdict rule".
struct StepCheck {
  bool pass = true;
  double worst_ratio = 0.0;  // the largest error / bound over the rows (< 1 when everything holds)
  std::string worst_row;
  std::string detail;             // the failing rows, described
  std::vector<verify::Row> rows;  // every row, judged
};
// Safe to call between steps (it turns autograd back on locally).
StepCheck check_step(const verify::StepRecord& record);
// Judges rows by the verdict rule (no ledger) and summarises them (the WaveNet's and GPT's checks too).
StepCheck summarize(std::vector<verify::Row> rows);

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
// default (kernel) path, ~4x faster (README, Speed). The tensor-op versions above are their reference.
BatchNormStats kernel_calibrate_batchnorm(const model::Params& params, const data::Split& split);
double kernel_split_loss(const model::Params& params, const BatchNormStats& stats, const data::Split& split);

// The logits for given contexts [m, block_size] with fixed BatchNorm statistics.
at::Tensor inference_logits(const model::Params& params, const BatchNormStats& stats, const at::Tensor& X);

// log10 of the loss averaged per `chunk` steps, as the notebook plots it. A final partial chunk is
// averaged over the steps it has.
struct CurvePoint {
  std::int64_t first_step;
  std::int64_t last_step;
  double mean_log10_loss;
};
std::vector<CurvePoint> loss_curve(const std::vector<float>& losses, std::int64_t chunk = 1000);

// A training run that went wrong: a NaN/Inf loss or a failed --verify-every check (exit 1).
class TrainingFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the three training commands (MLP, WaveNet, GPT) do around their steps, in one place: a
// checkpoint is written only when every parameter is finite, the last good one is remembered (the one
// a run resumed from, until it writes its own), and a run that goes non-finite stops with one line that
// names the step, the learning rate of the last step, where the last good checkpoint is and what to
// do, e.g. "the loss became NaN at step 1 (lr 1e+25); the last good checkpoint, step 1, is in runs/x;
// lower --lr".
class RunGuard {
 public:
  // out_dir: --out (empty: no checkpoints). resumed_dir / resumed_step: the checkpoint --resume read.
  explicit RunGuard(std::string out_dir, std::string resumed_dir = "", std::int64_t resumed_step = -1)
      : out_dir_(std::move(out_dir)), last_dir_(std::move(resumed_dir)), last_saved_(resumed_step) {}
  // With an --out directory: throws TrainingFailure unless every parameter is finite (an update after a
  // finite loss can still overflow them), then calls write() and remembers `step`. Without, nothing.
  template <typename Write>
  void save(std::int64_t step, const std::vector<std::pair<std::string, at::Tensor*>>& parameters, Write&& write) {
    if (out_dir_.empty()) return;
    require_finite(step, parameters);
    write();
    last_dir_ = out_dir_;
    last_saved_ = step;
  }
  // After each step: throws TrainingFailure if `loss` (of the step `step`, taken with learning rate
  // `lr`) is NaN or Inf; remembers lr for the message of a later overflow of the parameters.
  void check_loss(float loss, std::int64_t step, double lr);
  // "the last good checkpoint, step N, is in DIR" or "no checkpoint was written (use --out DIR)"
  std::string where_last_good() const;

 private:
  void require_finite(std::int64_t step, const std::vector<std::pair<std::string, at::Tensor*>>& parameters) const;
  std::string lr_text() const;  // "lr X" after a step, else ""
  std::string out_dir_, last_dir_;
  std::int64_t last_saved_ = -1;
  bool have_lr_ = false;  // set by the first check_loss
  double last_lr_ = 0.0;
};

}  // namespace bpn::train
