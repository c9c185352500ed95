// Embedding(V, C): a lookup table.     x [B, T] int64 -> out [B, T, C]
// Init (the lecture): weight = randn(V, C).
// See docs/derivations.md#embedding
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

// Forward: out = W[ix]
// Local:   out[b,t,:] = W[ix[b,t],:], so dW[v,:] = sum over every (b,t) with ix[b,t] = v of dout[b,t,:]
at::Tensor embedding_backward(const at::Tensor& dout, const at::Tensor& ix, const at::Tensor& W);

class Embedding : public Layer {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t dim, at::Generator& g);
  std::string kind() const override { return "Embedding"; }
  at::Tensor forward(const at::Tensor& ix) override;
  at::Tensor backward(const at::Tensor& dout) override;  // returns an undefined tensor: indices have no gradient
  NamedSlots parameters() override { return {{"weight", &weight}}; }
  NamedTensors grads() const override { return {{"weight", dweight}}; }
  at::Tensor weight, dweight;

 private:
  at::Tensor ix_;
};

}  // namespace bpn::layers
