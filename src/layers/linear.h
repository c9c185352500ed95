// Linear(fan_in, fan_out, bias): out = x @ W + b.     [..., fan_in] -> [..., fan_out]
// Init (the lecture): W = randn(fan_in, fan_out) / sqrt(fan_in); b = zeros(fan_out).
// See docs/derivations.md#linear
#pragma once

#include "layers/layer.h"

namespace bpn::layers {

// Which products linear_forward and linear_backward form, for the thread that holds the guard: while a
// KernelProducts is alive, float32 products on the CPU outside autograd run through kernel::product
// (libxsmm's JIT kernels) where libxsmm runs AVX-512 kernels (about twice OpenBLAS's speed at the GPT's
// shapes, `bench_step --benchmark_filter=GPTProduct`); otherwise, and always on other CPUs, through
// at::matmul. libxsmm's product is correctly computed with its own rounding, not OpenBLAS's, so rows that
// were bit-exact against autograd's products no longer are: the GPT opts in for its whole forward and
// backward (the ledger records its rows that way); the WaveNet and the recurrent models keep at::matmul,
// and with it their bit-exact rows.
class KernelProducts {
 public:
  KernelProducts();
  ~KernelProducts();
  KernelProducts(const KernelProducts&) = delete;
  KernelProducts& operator=(const KernelProducts&) = delete;
  static bool active();

 private:
  bool previous_;
};

// Forward: out = x @ W + b (b may be undefined); the product rounded first and b added after it, as
// x.matmul(W) + b does, whichever product forms it.
at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& W, const at::Tensor& b);

// Forward: out = x @ W + b
// Local:   dx = dout @ W^T; dW = x^T @ dout (over every leading index); db = dout summed over them
// (the products as KernelProducts says)
LinearGrads linear_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& W, bool bias);

class Linear : public Layer {
 public:
  Linear(std::int64_t fan_in, std::int64_t fan_out, bool bias, at::Generator& g);
  std::string kind() const override { return "Linear"; }
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor backward(const at::Tensor& dout) override;
  NamedSlots parameters() override;
  NamedTensors grads() const override;
  at::Tensor weight, bias, dweight, dbias;

 private:
  at::Tensor x_;
};

}  // namespace bpn::layers
