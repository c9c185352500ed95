// Training the WaveNet of makemore part 5 with its hand-derived backward only (`train --arch wavenet`),
// the lecture's recipe: batch 32, SGD with lr 0.1, then 0.01 from step 150,000; one generator seeded
// 42 draws the parameters and then every batch, as torch.manual_seed(42) does in the lecture.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "data/dataset.h"
#include "model/params.h"
#include "models/wavenet.h"
#include "train/trainer.h"

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
// No autograd anywhere (InferenceMode). Returns the step's loss. `applied`, if given, receives the
// parameters before the update and the batch (for --verify-every).
// `inspect`, if given, sees the parameters before the update, the batch and the gradients the step applies.
using WaveNetInspect =
    std::function<void(const models::WaveNet& before, const model::Batch& batch, const layers::NamedTensors& grads)>;
float wavenet_manual_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train,
                          const WaveNetInspect& inspect = {});

// --verify-every: the gradients a step applied against autograd of the same parameters and batch,
// judged by the verdict rule (through the generic verification).
StepCheck check_wavenet_step(const models::WaveNet& before, const model::Batch& batch,
                             const layers::NamedTensors& applied);

// The autograd twin: the same step with loss.backward() computing the gradients.
float wavenet_autograd_step(WaveNetState& s, const WaveNetTrainConfig& cfg, const data::Split& train);

// Cross-entropy over a whole split in eval mode (the running statistics), in chunks of 10,000 rows.
double wavenet_split_loss(models::WaveNet& net, const data::Split& split);

}  // namespace bpn::train
