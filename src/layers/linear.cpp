#include "layers/linear.h"

#include <cmath>

#include "kernel/products.h"
#include "layers/cpu_loops.h"
#include "util/threads.h"

namespace bpn::layers {

namespace {
thread_local bool kernel_products = false;

// Whether the products of x (and the other operands) go through kernel::product: asked for, float32 on
// the CPU, outside autograd, on a CPU where libxsmm runs its AVX-512 kernels.
bool use_kernel_products(std::initializer_list<at::Tensor> ts) {
  return kernel_products && kernel::libxsmm_avx512() && cpu_loops(ts) && ts.begin()->scalar_type() == at::kFloat &&
         no_autograd(*ts.begin());
}
// C [M, N] = op(A) @ B for contiguous float32 A ([M, K], or [K, M] with a_transposed) and B [K, N]
at::Tensor kernel_product(bool a_transposed, const at::Tensor& A, const at::Tensor& B) {
  const std::int64_t M = a_transposed ? A.size(1) : A.size(0), K = B.size(0), N = B.size(1);
  at::Tensor C = at::empty({M, N}, B.options());
  kernel::product({a_transposed, /*tb=*/false, M, N, K}, A.data_ptr<float>(), B.data_ptr<float>(), C.data_ptr<float>());
  return C;
}
// C [M, N] = A @ B^T for contiguous float32 A [M, K] and B [N, K]: where libxsmm has the kernel, the
// product's own transpose of B into its scratch (kernel/products.h) and then the kernel that
// kernel_product(false, A, B^T contiguous) runs, so the same numbers without a tensor made for B^T;
// elsewhere that tensor, as before (OpenBLAS may round B^T apart from B with its transpose flag).
at::Tensor kernel_product_transposed_b(const at::Tensor& A, const at::Tensor& B) {
  const kernel::ProductShape s{/*ta=*/false, /*tb=*/true, A.size(0), B.size(0), A.size(1)};
  if (!B.is_contiguous() || kernel::choose_library(s) != kernel::ProductLibrary::kLibxsmm) {
    return kernel_product(false, A, B.t().contiguous());
  }
  at::Tensor C = at::empty({s.M, s.N}, A.options());
  kernel::product(s, A.data_ptr<float>(), B.data_ptr<float>(), C.data_ptr<float>());
  return C;
}
}  // namespace

KernelProducts::KernelProducts() : previous_(kernel_products) { kernel_products = true; }
KernelProducts::~KernelProducts() { kernel_products = previous_; }
bool KernelProducts::active() { return kernel_products; }

at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& W, const at::Tensor& b) {
  if (!use_kernel_products({x, W})) return b.defined() ? x.matmul(W) + b : x.matmul(W);
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = W.size(1);
  at::Tensor out = kernel_product(false, x.reshape({-1, x.size(-1)}).contiguous(), W.contiguous()).view(shape);
  return b.defined() ? out.add_(b) : out;
}

// Forward: out = x @ W + b                     ([..., in] @ [in, out] + [out])
// Local:   dx = dout @ W^T; dW = sum over leading indices of x^T dout; db = dout summed over them
// See docs/derivations.md#linear
LinearGrads linear_backward(const at::Tensor& dout, const at::Tensor& x, const at::Tensor& W, bool bias) {
  const at::Tensor d2 = dout.reshape({-1, dout.size(-1)}), x2 = x.reshape({-1, x.size(-1)});
  LinearGrads g;
  if (use_kernel_products({dout, x, W})) {
    const at::Tensor dc = d2.contiguous(), xc = x2.contiguous();
    util::run_both([&] { g.dx = kernel_product_transposed_b(dc, W).view(x.sizes()); },
                   [&] {
                     g.dW = kernel_product(true, xc, dc);
                     if (bias) g.db = d2.sum({0});
                   });
    return g;
  }
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
