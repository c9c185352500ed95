// Parameters and minibatch, drawn exactly as the notebook draws them.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "models/mlp/config.h"

namespace bpn::model {

struct Params {
  at::Tensor C;       // [vocab_size, n_embd]
  at::Tensor W1;      // [block_size*n_embd, n_hidden]
  at::Tensor b1;      // [n_hidden]
  at::Tensor W2;      // [n_hidden, vocab_size]
  at::Tensor b2;      // [vocab_size]
  at::Tensor bngain;  // [1, n_hidden]
  at::Tensor bnbias;  // [1, n_hidden]

  // In the notebook's order: C, W1, b1, W2, b2, bngain, bnbias (the one place that lists it).
  std::array<at::Tensor*, 7> tensors() { return tensors_of(*this); }
  std::array<const at::Tensor*, 7> tensors() const { return tensors_of(*this); }
  // The same, with their names (a vector and strings: not for the training kernel's step).
  std::vector<std::pair<std::string, at::Tensor*>> named();
  std::vector<std::pair<std::string, const at::Tensor*>> named() const;
  std::int64_t numel() const;
  void set_requires_grad(bool requires_grad);
  // The same values, detached, in another dtype on the same device; float32 -> float64 -> float32 is exact
  // for the notebook's float32 draws.
  Params to(at::ScalarType dtype) const;

 private:
  template <typename Self>
  static auto tensors_of(Self& s) -> std::array<decltype(&s.C), 7> {
    return {&s.C, &s.W1, &s.b1, &s.W2, &s.b2, &s.bngain, &s.bnbias};
  }
};

// The generator g after the parameter draws, so that the minibatch draws continue its stream.
struct Initialised {
  Params params;
  at::Generator g;
};

// g = Generator(seed): C, W1*(5/3)/sqrt(fan_in), b1, W2*0.1, b2*0.1.
// g2 = Generator(seed + 1): bngain = randn*0.1 + 1, bnbias = randn*0.1. (The notebook drew these
// from torch's unseeded global generator; see docs/verdict.md "Seeding deviation".)
// Draws are in float32 on the CPU, then converted to config.dtype and moved to config.device.
Initialised init_params(const ModelConfig& config);

struct Batch {
  at::Tensor ix;  // [batch_size] int64 rows of the training split (CPU)
  at::Tensor Xb;  // [batch_size, block_size] int64
  at::Tensor Yb;  // [batch_size] int64
};

// ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g); Xb, Yb = Xtr[ix], Ytr[ix].
Batch draw_batch(const at::Tensor& Xtr, const at::Tensor& Ytr, std::int64_t batch_size, at::Generator& g,
                 at::Device device = at::kCPU);

// ix [n] (int64, contiguous, CPU) = torch.randint(0, N, (n,), generator=g) for a CPU generator g: the same
// numbers, drawn by ATen's own CPU sampler for randint (at::uniform_int_from_to_distribution, in order,
// under the generator's lock) without the dispatcher, a TensorIterator and a new tensor: the training
// kernel's batches (a tenth of a microsecond instead of a microsecond, ~4% of its step). Other generators
// (and none: the default one) go through at::randint_out.
void draw_rows(at::Generator& g, std::int64_t N, at::Tensor& ix);

}  // namespace bpn::model
