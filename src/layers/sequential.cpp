#include "layers/sequential.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace bpn::layers {

void Sequential::add(LayerPtr layer) {
  static const std::map<std::string, std::string> prefix = {{"Embedding", "embedding"},
                                                            {"FlattenConsecutive", "flatten"},
                                                            {"Linear", "linear"},
                                                            {"BatchNorm1d", "batchnorm"},
                                                            {"Tanh", "tanh"}};
  const auto it = prefix.find(layer->kind());
  std::string kind = it != prefix.end() ? it->second : layer->kind();
  std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
  std::int64_t same = 1;
  for (const auto& l : layers_) same += l->kind() == layer->kind() ? 1 : 0;
  names_.push_back(kind + std::to_string(same));
  layers_.push_back(std::move(layer));
}

at::Tensor Sequential::forward(const at::Tensor& x, NamedTensors* outputs, const Hook& hook) {
  at::Tensor h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (hook) hook(names_[i], h);
    if (outputs) outputs->emplace_back(names_[i], h);
  }
  return h;
}

// Backward: the reverse chain. Layer i's output gradient is what layer i+1's backward returned.
// See docs/derivations.md#sequential
NamedTensors sequential_backward(const std::vector<Layer*>& layers, const std::vector<std::string>& names,
                                 const at::Tensor& dout) {
  NamedTensors out;
  at::Tensor d = dout;
  for (std::size_t i = layers.size(); i-- > 0;) {
    out.emplace_back(names[i], d);
    d = layers[i]->backward(d);
  }
  return out;
}

NamedTensors Sequential::backward(const at::Tensor& dout) {
  std::vector<Layer*> raw;
  for (auto& l : layers_) raw.push_back(l.get());
  const BackwardTable* table = layers_.empty() ? &hand_derived() : layers_.front()->table;
  return table->sequential_backward(raw, names_, dout);
}

std::vector<std::string> Sequential::output_names() const { return names_; }

NamedSlots Sequential::parameters() {
  NamedSlots out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    for (auto& [name, t] : layers_[i]->parameters()) out.emplace_back(names_[i] + "." + name, t);
  }
  return out;
}

NamedTensors Sequential::grads() const {
  NamedTensors out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    for (auto& [name, t] : layers_[i]->grads()) out.emplace_back(names_[i] + "." + name, t);
  }
  return out;
}

NamedSlots Sequential::buffers() {
  NamedSlots out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    for (auto& [name, t] : layers_[i]->buffers()) out.emplace_back(names_[i] + "." + name, t);
  }
  return out;
}

void Sequential::set_training(bool training) {
  for (auto& l : layers_) l->training = training;
}

void Sequential::set_table(const BackwardTable* table) {
  for (auto& l : layers_) l->table = table;
}

}  // namespace bpn::layers
