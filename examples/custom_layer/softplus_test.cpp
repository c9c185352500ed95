// Verifying your own backward: a hand-derived softplus, out = log(1 + exp(x)), proved with one line
// per claim (central differences in float64, every structural check, float32 by the verdict rule).
#include <bpninja/gtest.h>  // EXPECT_GRADCHECK (bpninja::gtest)

// Forward: out = log(1 + exp(x));  Local: d out / dx = exp(x) / (1 + exp(x)) = sigmoid(x)
at::Tensor softplus_forward(const at::Tensor& x) { return at::log1p(at::exp(x)); }
at::Tensor softplus_backward(const at::Tensor& dout, const at::Tensor& x) { return dout * at::sigmoid(x); }

const bpn::TensorFn forward = [](const bpn::Tensors& in) { return softplus_forward(in[0]); };
const bpn::BackwardFn backward = [](const bpn::Tensors& dout, const bpn::Tensors& in) {
  return softplus_backward(dout[0], in[0]);
};
at::Tensor x(at::ScalarType dtype) { return at::linspace(-4, 4, 24, dtype).reshape({4, 6}).requires_grad_(); }

TEST(Softplus, PassesGradcheckInBothDtypes) {
  EXPECT_GRADCHECK(forward, backward, {x(at::kDouble)});
  EXPECT_GRADCHECK(forward, backward, {x(at::kFloat)});  // judged against its own float64 run
}

TEST(Softplus, AWrongBackwardFails) {  // the derivative of log(exp(x)) = x instead: 1
  const bpn::BackwardFn wrong = [](const bpn::Tensors& dout, const bpn::Tensors&) { return dout[0]; };
  EXPECT_FALSE(bpn::gradcheck(forward, wrong, {x(at::kDouble)}));
}
