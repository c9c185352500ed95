// A layer: a forward in LibTorch tensor ops that saves what its backward needs, and a hand-derived
// backward (through layers::BackwardTable). With the parameters requiring grad, autograd sees the
// same forward, which is how the generic verification (verify/graph.h) gets its reference.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/backward_table.h"

namespace bpn::layers {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;
using NamedSlots = std::vector<std::pair<std::string, at::Tensor*>>;

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;
  // Saves what backward needs (the input, or the output, or statistics).
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // Returns dloss/dx from dloss/dout and keeps the parameters' gradients for grads().
  virtual at::Tensor backward(const at::Tensor& dout) = 0;
  virtual NamedSlots parameters() { return {}; }     // "weight", "bias", "gamma", "beta"
  virtual NamedTensors grads() const { return {}; }  // the same names, after backward
  virtual NamedSlots buffers() { return {}; }        // running statistics
  bool training = true;
  const BackwardTable* table = &hand_derived();
};

using LayerPtr = std::unique_ptr<Layer>;

}  // namespace bpn::layers
