#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace bpn::model {

// BatchNorm's epsilon, as in the notebook: bnvar_inv = (bnvar + 1e-5)**-0.5.
inline constexpr double kBnEps = 1e-5;

// The notebook's generator seed: g = torch.Generator().manual_seed(2147483647).
inline constexpr std::uint64_t kNotebookSeed = 2147483647ULL;

struct ModelConfig {
  std::int64_t vocab_size = 27;
  std::int64_t block_size = 3;
  std::int64_t n_embd = 10;
  std::int64_t n_hidden = 64;
  std::uint64_t seed = kNotebookSeed;  // g; bngain/bnbias come from a second generator, seed + 1
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;

  at::TensorOptions options() const { return at::TensorOptions().dtype(dtype).device(device); }
};

std::string dtype_name(at::ScalarType dtype);  // "float32" / "float64"

}  // namespace bpn::model
