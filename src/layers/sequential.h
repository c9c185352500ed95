// Sequential: layers applied in order; its backward is the reverse chain, each layer's backward fed
// the gradient of its output. Every layer's output is recorded under "<kind><index>" (for example
// "linear3"), which is what the generic verification compares.
// See docs/derivations.md#sequential
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "layers/layer.h"

namespace bpn::layers {

// out_L = layer_L(... layer_1(x)): dout_{i-1} = layer_i.backward(dout_i), from the last layer to the first.
// Returns every layer's output gradient, last first.
NamedTensors sequential_backward(const std::vector<Layer*>& layers, const std::vector<std::string>& names,
                                 const at::Tensor& dout);

class Sequential {
 public:
  void add(LayerPtr layer);
  // Called after each layer with its output's name and value; it may replace the value, and the
  // rest of the forward runs from the replacement (central differences perturb outputs this way).
  using Hook = std::function<void(const std::string& name, at::Tensor& value)>;
  // Runs every layer; `outputs` (if given) receives each layer's output, named as above.
  at::Tensor forward(const at::Tensor& x, NamedTensors* outputs = nullptr, const Hook& hook = {});
  // dout: the gradient of the last output. Returns the gradient of every layer's output (same names)
  // in reverse order; the parameters' gradients are then in each layer's grads().
  NamedTensors backward(const at::Tensor& dout);
  std::vector<std::string> output_names() const;
  NamedSlots parameters();     // "<layer name>.<parameter>"
  NamedTensors grads() const;  // the same names and order
  NamedSlots buffers();
  void set_training(bool training);
  void set_table(const BackwardTable* table);
  std::vector<LayerPtr>& layers() { return layers_; }

 private:
  std::vector<LayerPtr> layers_;
  std::vector<std::string> names_;
};

}  // namespace bpn::layers
