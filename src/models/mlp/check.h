// The experiment of the notebook, run end to end: initialise, draw a batch, forward with every
// intermediate retained, autograd backward (in float32 and float64), the hand-derived backward
// through a table of backward functions, and one judged row per tensor (verify/verdict.h).
//   Exercise 1: the 26 gradients of the chunked forward.
//   Exercise 2: cross-entropy in one go (closed-form dlogits), CPU loop and tensor ops.
//   Exercise 3: BatchNorm in one go (closed-form dhprebn), both variance conventions, loop and ops.
//   Exercise 4: one training step as `train` runs it: the loop forward against the op forward, every
//               gradient the step applies against autograd, and the SGD update.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "kernel/mlp_kernel.h"
#include "models/mlp/backward_table.h"
#include "models/mlp/config.h"
#include "models/mlp/params.h"
#include "verify/compare.h"
#include "verify/environment.h"
#include "verify/graph.h"
#include "verify/ledger.h"
#include "verify/report.h"
#include "verify/verdict.h"

namespace bpn::verify {

// Goals of Exercises 2 and 3 in the notebook's configuration (the lecture measured 5.1e-9 and 9.3e-10).
inline constexpr double kFastForwardLimit = 1e-6;           // |loss_fast - loss|, max|hpreact_fast - hpreact|
inline constexpr double kFusedGradLimit = 1e-8;             // maxdiff of the closed-form gradients
inline constexpr const char* kKernelRowPrefix = "kernel:";  // Exercise 4 rows of the kernel step
inline constexpr double kStepLr = 0.1;                      // the learning rate of Exercise 4's step (the lecture's)

struct CheckConfig {
  std::int64_t n_embd = 10;
  std::int64_t n_hidden = 64;
  std::int64_t batch_size = 32;
  std::uint64_t seed = model::kNotebookSeed;
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  std::set<int> exercises = {1, 2, 3, 4};
  // The functions under test; a copy with one entry replaced checks a user's (or a mutant's) function.
  const model::BackwardTable* table = &model::hand_derived();
  // Exercise 4's kernel rows: the raw-memory training kernel's pieces (a mutant replaces one)
  const kernel::KernelTable* kernel_table = &kernel::kernel_functions();
  // `check --params`: these weights instead of the initial draw (n_embd and n_hidden must be theirs;
  // the batch is still drawn from g after the initial draws). params_id goes into the ledger key.
  std::optional<model::Params> params;
  std::string params_id;
};

// The lecture's configuration (block 3, n_embd 10, n_hidden 64, batch 32, seed 2147483647) on its data
// (data::is_names_txt): the only one where the lecture's absolute goals (maxdiff <= 1e-8) are asserted.
// (Any 27-character word list counted until 2026-12-07.)
bool is_notebook_configuration(const CheckConfig& config, const data::Dataset& data);

// The notebook's setup for a configuration: parameters (init_params) and the batch drawn from g.
// Throws bpn::InputError for a batch below 2 (the variance divides by n-1).
struct Experiment {
  model::Params params;
  model::Batch batch;
};
Experiment make_experiment(const data::Dataset& data, const CheckConfig& config);

// Exercise 1's graph for compare_graph (and `bpninja graph`): the chunked forward of `params` on
// `batch` in the asked dtype, every intermediate recorded, chunked_backward through `table` (which
// must outlive the factory) as the manual backward.
GraphFactory chunked_graph_factory(const model::Params& params, const model::Batch& batch,
                                   const model::BackwardTable& table);

// Runs the experiment and fills every comparison. Expectations are not applied yet.
CheckReport run_check(const data::Dataset& data, const CheckConfig& config);

// The row names each exercise produces, for validating a ledger: "exercise1" -> {"logprobs", ...}.
const std::map<std::string, std::set<std::string>>& known_rows();

// The rounding scales of the chunked graph's two analytically-zero gradients, from its float64
// autograd gradients: dlogit_maxes (softmax is shift-invariant) and db1 (BatchNorm removes any bias
// added before it); each is the first-order rounding bound of the sum that computes it.
std::map<std::string, double> chunked_noise_scales(const std::map<std::string, at::Tensor>& grad64);

// The rounding scales (judge_accuracy's noise_scale) of the gradients BatchNorm's closed form feeds.
// Its terms, |bngain*bnvar_inv|/n (n|dy| + sum|dy| + n/(n-1) r sum(|dy| r)) with r = |bnraw| +
// |hprebn|*bnvar_inv, cancel where the true dhprebn is small (at n = 2 it is O(eps)), and bnraw carries
// the rounding of hprebn - mean: their magnitude, a [n, H] tensor, is the scale of dhprebn's rounding. Pushed through
// the linear layer below with absolute values (hprebn_backward of |W1|, |embcat|; emb_backward) it gives the scales of
// dembcat, demb, dW1, db1 (analytically zero) and dC. All inputs are the float64 reference's; returns {"hprebn",
// "embcat", "emb", "W1", "b1", "C"}.
std::map<std::string, double> batchnorm_noise_scales(const at::Tensor& dhpreact, const at::Tensor& bnraw,
                                                     const at::Tensor& bnvar_inv, const at::Tensor& bngain,
                                                     const at::Tensor& hprebn, const at::Tensor& embcat,
                                                     const at::Tensor& W1, const at::Tensor& emb, const at::Tensor& Xb,
                                                     const at::Tensor& C);

// ---- One training step, verified (Exercise 4, and train --verify-every) --------------------------

struct StepRecord {
  model::Params before;  // the parameters the step started from
  model::Batch batch;
  model::FusedForward forward;  // what the step's forward computed (the CPU loops)
  model::FusedGrads grads;      // the gradients the step applied
  model::Params after;          // the parameters after the update
  double lr = 0.0;
};

// Rows: "forward:bnraw", "forward:bnvar_inv", "forward:hpreact" (loop vs op forward), the 13 gradients
// of the fused graph (vs autograd of the same parameters and batch) and "step:<param>" (the update vs
// p - lr * grad in tensor ops). Judged by the verdict rule; no ledger.
std::vector<Row> verify_step(const StepRecord& step);

}  // namespace bpn::verify
