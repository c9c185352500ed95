#include "layers/linear.h"

#include <cmath>

#include "util/threads.h"

namespace bpn::layers {

// Forward: out = x @ W + b                     ([..., in] @ [in, out] + [out])
// Local:   dx = dout @ W^T; dW = sum over leading indices of x^T dout; db = dout summed over them
// See docs/derivations.md#linear
LinearGrads linear_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& W, bool bias) {
  const at::Tensor d2 = dout.reshape({-1, dout.size(-1)}), x2 = x.reshape({-1, x.size(-1)});
  LinearGrads g;
  // dx and dW are independent matmuls: on two threads with --threads 2 (util/threads.h)
  util::run_both([&] { g.dx = dout.matmul(W.t()); },
                 [&] {
                   g.dW = x2.t().mm(d2);
                   if (bias) g.db = d2.sum({0});
                 });
  return g;
}

Linear::Linear(std::int64_t fan_in, std::int64_t fan_out, bool has_bias, at::Generator& g)
    : weight(at::randn({fan_in, fan_out}, g, at::kFloat) / std::sqrt(static_cast<double>(fan_in))) {
  if (has_bias) bias = at::zeros({fan_out}, at::kFloat);
}

at::Tensor Linear::forward(const at::Tensor& x) {
  x_ = x;
  at::Tensor out = x.matmul(weight);
  return bias.defined() ? out + bias : out;
}

at::Tensor Linear::backward(const at::Tensor& dout) {
  LinearGrads g = table->linear_backward(dout, x_, weight, bias.defined());
  dweight = g.dW;
  dbias = g.db;
  return g.dx;
}

NamedSlots Linear::parameters() {
  if (bias.defined()) return {{"weight", &weight}, {"bias", &bias}};
  return {{"weight", &weight}};
}

NamedTensors Linear::grads() const {
  if (bias.defined()) return {{"weight", dweight}, {"bias", dbias}};
  return {{"weight", dweight}};
}

}  // namespace bpn::layers
