// `bpninja check --params FILE`: the MLP's weights from a file instead of the notebook's initial draw.
// FILE is one of
//   - a safetensors file a user saved from PyTorch, e.g. safetensors.torch.save_file({"C": C, "W1": W1,
//     ...}, "weights.safetensors"), with exactly the notebook's names C, W1, b1, W2, b2, bngain,
//     bnbias, float32 or float64;
//   - a checkpoint of `bpninja train` (its checkpoint.safetensors, the legacy checkpoint.bpn, or the
//     --out directory that holds one).
// The sizes n_embd and n_hidden come from the shapes; every name, shape and dtype is validated
// against the data set (vocabulary size, block size), and anything missing, extra, mis-shaped or
// non-finite is an input error (bpn::InputError) that names it.
#pragma once

#include <cstdint>
#include <string>

#include "models/mlp/params.h"

namespace bpn::train {

struct ParamsFile {
  model::Params params;  // float32 or float64, as stored, on the CPU
  std::int64_t n_embd = 0, n_hidden = 0;
  std::string id;  // "fnv1a64:<hex>" of the parameters' bytes: the ledger key's "params"
};

ParamsFile load_params_file(const std::string& path, std::int64_t vocab_size, std::int64_t block_size);
// The same from a file's bytes (`path` names it in errors); what the fuzz target calls.
ParamsFile params_from_bytes(const std::string& bytes, const std::string& path, std::int64_t vocab_size,
                             std::int64_t block_size);

}  // namespace bpn::train
