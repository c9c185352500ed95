// What training a sequence model (the GPT, the RNN, the GRU: data/sequences.h) shares, whatever the
// model: the batch drawn from g, the loss over a whole split, makemore's sampling, and the update
// torch::optim::AdamW would make (the reference --verify-every holds the hand-written AdamW to).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/sequences.h"
#include "train/adamw.h"
#include "train/checkpoint_file.h"
#include "train/safetensors.h"

namespace bpn::train {

// `batch` sequences drawn uniformly from `split` with g (makemore's batch loader): X, Y [batch, L].
std::pair<at::Tensor, at::Tensor> draw_sequences(const data::Sequences& split, std::int64_t batch, at::Generator& g);

// The mean loss over the counted positions of a whole split, in chunks of 1,000 sequences;
// loss(X, Y) returns a chunk's mean over its counted positions. NaN for a split with none.
double sequence_split_loss(const std::function<at::Tensor(const at::Tensor& X, const at::Tensor& Y)>& loss,
                           const data::Sequences& split);

// makemore's sampling: from the start token 0, append one character at a time drawn from
// softmax(last_logits(prefix)) ([1, V], the logits of the prefix's last position), with the whole
// prefix as the context (at most L positions), until the model draws 0.
std::vector<std::string> sample_sequences(const std::function<at::Tensor(const at::Tensor& prefix)>& last_logits,
                                          const data::Vocab& vocab, std::int64_t L, std::int64_t count,
                                          std::uint64_t seed);

// Parameter i after one step of torch::optim::AdamW (in dtype d) from `opt`'s state (step count, m, v)
// and gradient g: the reference of a hand-written AdamW update ("step:<name>" rows).
at::Tensor torch_adamw_update(const at::Tensor& p0, const at::Tensor& g, const AdamW& opt, std::size_t i,
                              const AdamWConfig& c, at::ScalarType d);

// ---- AdamW in a checkpoint (train/checkpoint_file.h), as the GPT, the RNN and the GRU keep it ----
// Metadata "adamw_steps"; after the first step, m and v of each parameter under
// "adamw.exp_avg.<name>" and "adamw.exp_avg_sq.<name>". The config as JSON {lr, beta1, beta2, eps,
// weight_decay}.
nlohmann::json adamw_config_json(const AdamWConfig& c);
AdamWConfig adamw_config_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception
void save_adamw_state(SafeTensors& st, const std::vector<std::string>& names, const AdamW& opt);
// The state save_adamw_state wrote, for parameters `params` (names and shapes), `steps` steps in.
AdamW restore_adamw_state(CheckpointReader& r, const std::vector<std::pair<std::string, at::Tensor*>>& params,
                          const AdamWConfig& config, std::int64_t steps);

}  // namespace bpn::train
