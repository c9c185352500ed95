// Training the WaveNet of makemore part 5 with its hand-derived backward only (`train --arch wavenet`),
// the lecture's recipe: batch 32, SGD with lr 0.1, then 0.01 from step 150,000; one generator seeded
// 42 draws the parameters and then every batch, as torch.manual_seed(42) does in the lecture.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/mlp/params.h"
#include "models/wavenet/wavenet.h"
#include "train/checkpoint_file.h"
#include "train/run.h"

namespace bpn::train {

struct WaveNetTrainConfig {
  models::WaveNetConfig model;
  std::int64_t batch_size = 32;
  double lr = 0.1;
  double lr_decayed = 0.01;
  std::int64_t decay_step = 150000;
  double lr_at(std::int64_t step) const { return step < decay_step ? lr : lr_decayed; }
};

struct WaveNetState {
  models::WaveNet net;
  at::Generator g;
  std::int64_t step = 0;
  std::vector<float> losses;
};

WaveNetState init_wavenet(const WaveNetTrainConfig& cfg, const data::Dataset& data);

// One step: a batch from g, the forward (training mode), the hand-derived backward, p += -lr * grad.
// No autograd anywhere (InferenceMode). Returns the step's loss. `inspect`, if given, sees the step
// after its update (for --verify-every). A gradient that is missing or not of its parameter's shape is
// not applied: with `inspect` its rows report it, without it the step throws TrainingFailure.
struct WaveNetStep {
  const models::WaveNet& before;  // the parameters the step started from
  const model::Batch& batch;
  const layers::NamedTensors& grads;  // the gradients the step applied
  const models::WaveNet& after;       // the parameters after the update
  double lr;
};
using WaveNetInspect = std::function<void(const WaveNetStep& step)>;
float wavenet_manual_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train,
                          const WaveNetInspect& inspect = {});

// --verify-every: the gradients a step applied against autograd of the same parameters and batch,
// and the update against p - lr * grad in tensor ops ("step:<name>" rows), judged by the verdict rule
// (through the generic verification).
StepCheck check_wavenet_step(const WaveNetStep& step);

// `check --arch wavenet`'s second exercise: step 0 of `train --arch wavenet` as it runs (the training
// forward's CPU loops, the hand-derived backward, SGD) from cfg's seed, in dtype, verified as
// --verify-every verifies it (gradients against autograd, "step:<name>" update rows).
verify::ExerciseReport wavenet_step_exercise(const data::Dataset& data, const WaveNetTrainConfig& cfg,
                                             at::ScalarType dtype);

// The autograd twin: the same step with loss.backward() computing the gradients.
float wavenet_autograd_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train);

// Cross-entropy over a whole split in eval mode (the running statistics), in chunks of 10,000 rows.
double wavenet_split_loss(models::WaveNet& net, const data::Split& split);

// ---- Checkpoints: <dir>/checkpoint.safetensors (train/safetensors.h), written atomically ----------
// Tensors: every parameter and running statistic under its layer name ("linear1.weight",
// "batchnorm1.running_mean"), "generator_state" (U8) and "losses" (F32, one per step done).
// __metadata__: format "bpninja-checkpoint", format_version "1", arch "wavenet", config (JSON),
// vocab (JSON array of code points), train_rows, step, and the data checksum.

struct WaveNetCheckpoint {
  WaveNetTrainConfig config;
  std::vector<char32_t> vocab;
  std::int64_t train_rows = 0;
  std::string data_fingerprint;  // train::data_fingerprint of it; empty in checkpoints written before 2026-12-07
  WaveNetState state;
};
void save_wavenet_checkpoint(const std::string& dir, const WaveNetState& s, const WaveNetTrainConfig& cfg,
                             const data::Dataset& data);
// Validates the format, the model's names and shapes against the config; throws bpn::InputError.
WaveNetCheckpoint load_wavenet_checkpoint(const std::string& dir);

// Names from a WaveNet checkpoint, sampled as the MLP's (eval mode: the running statistics).
std::vector<std::string> sample_wavenet(WaveNetCheckpoint& c, std::int64_t count, std::uint64_t seed,
                                        std::int64_t max_length = 200);

}  // namespace bpn::train
