#include "layers/tanh.h"

#include <cmath>

#include "kernel/vector_math.h"
#include "layers/cpu_loops.h"

namespace bpn::layers {

namespace {

// 1 - x*x with a single rounding, for each element. std::fma is correctly rounded everywhere; the
// avx2/fma clone only makes it an instruction (and lets the loop vectorize) instead of a libm call.
template <typename T>
void one_minus_square_loop(const T* x, T* out, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = std::fma(-x[i], x[i], T{1});
}
template <typename T>
__attribute__((target("avx2,fma"))) void one_minus_square_loop_fma(const T* x, T* out, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = std::fma(-x[i], x[i], T{1});
}

// 1 - h*h rounded once: fma(-h, h, 1). ATen's vectorized CPU tanh_backward kernel (AVX2/AVX512
// builds) and CUDA's compile `1 - y*y` to a fused multiply-add, so the naive two-rounding formula
// differs from autograd in the last bit. See docs/derivations.md#h_backward.
at::Tensor one_minus_square(const at::Tensor& h) {
  if (h.device().is_cpu()) {
    static const bool has_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const at::Tensor x = h.contiguous();
    at::Tensor out = at::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "one_minus_square", [&] {
      if (has_fma) {
        one_minus_square_loop_fma(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), x.numel());
      } else {
        one_minus_square_loop(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), x.numel());
      }
    });
    return out;
  }
  // Other devices: 1 + (-1)*h*h through addcmul, whose kernel contracts to one fma as well.
  return at::addcmul(at::ones_like(h), h, h, -1.0);
}

}  // namespace

// Forward: out = tanh(x)
// Local:   d tanh(x)/dx = 1 - tanh(x)^2 = 1 - out^2 (from the saved output), rounded once (fma); the MLP's
// h_backward is this function. See docs/derivations.md#h_backward: the derivation and the fma that
// makes it bit-exact.
at::Tensor tanh_backward(const at::Tensor& dout, const at::Tensor& out) { return dout * one_minus_square(out); }

at::Tensor Tanh::forward(const at::Tensor& x) {
  at::Tensor out;
  if (vector_tanh && no_autograd(x) && x.device().is_cpu() && x.is_contiguous() && x.scalar_type() == at::kFloat) {
    out = at::empty_like(x);  // outside autograd: libmvec's tanhf (kernel/vector_math.h)
    kernel::vector_tanh(x.data_ptr<float>(), out.data_ptr<float>(), x.numel());
  } else {
    out = at::tanh(x);
  }
  out_ = out.detach();
  return out;
}

at::Tensor Tanh::backward(const at::Tensor& dout) { return table->tanh_backward(dout, out_); }

}  // namespace bpn::layers
