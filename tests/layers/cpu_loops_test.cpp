// The layers' CPU loops (src/layers/transformer.cpp) and the GPT's products on libxsmm
// (layers::KernelProducts) at shapes that reach every edge of their blocking: more than 16 keys and
// channels per head (two lane blocks, the second partial), row counts that are not multiples of the
// 4-row and 8-row blocks. The models' checks run them only at their own shapes.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <limits>

#include "kernel/products.h"
#include "layers/linear.h"
#include "layers/transformer.h"

namespace bpn::layers {
namespace {

at::Tensor loops_draw(at::IntArrayRef shape, std::uint64_t seed, at::ScalarType dtype = at::kDouble) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, g, at::TensorOptions(at::kDouble)).to(dtype);
}

void loops_expect_close(const at::Tensor& a, const at::Tensor& b, double tol, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double diff = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
  EXPECT_LE(diff, tol) << what << ": max |loop - tensor ops| " << diff;
}

// B 2, 3 heads, T 19: the loops against the same formulas as tensor ops. hs 21 copies each head's rows
// into scratch padded to two lane blocks; hs 32 reads them in place (a multiple of 16). In float32 the
// keys' and values' transposes are kernel::transpose_block16's, a full block and one of 3 rows. The
// bound is the two paths' roundings of the same sums, 2 K u sum|terms| (K <= 32 terms, u = 2^-24 in
// float32 and 2^-53 in float64, sum|terms| of randn products below ~25): 1e-4 in float32, 1e-13 and
// 2e-13 in float64 for 21 and 32 terms.
void expect_attention_agrees(at::ScalarType dtype, std::int64_t hs, double tol) {
  at::NoGradGuard no_grad;
  const std::int64_t B = 2, nh = 3, T = 19;
  // q, k, v as views of one [B, T, 3C] projection, as the GPT makes them
  const at::Tensor qkv = loops_draw({B, T, 3 * nh * hs}, 1, dtype);
  auto heads = [&](std::int64_t i) {
    return qkv.narrow(-1, i * nh * hs, nh * hs).view({B, T, nh, hs}).transpose(1, 2);
  };
  const at::Tensor q = heads(0), k = heads(1), v = heads(2);
  const double scale = 0.3;
  const AttentionForward loops = causal_attention_forward(q, k, v, scale, /*keep_scores=*/false);
  const AttentionForward ops = causal_attention_forward(q, k, v, scale, /*keep_scores=*/true);
  loops_expect_close(loops.probs, ops.probs, tol / 10, "probs");
  loops_expect_close(loops.y, ops.y, tol, "y");

  const at::Tensor dy = loops_draw({B, nh, T, hs}, 2, dtype), datt = loops_draw({B, nh, T, T}, 3, dtype);
  const ValuesGrads vals = attention_values_backward(dy, ops.probs, v);
  loops_expect_close(vals.dprobs, dy.matmul(v.transpose(-2, -1)), tol, "dprobs");
  loops_expect_close(vals.dv, ops.probs.transpose(-2, -1).matmul(dy), tol, "dv");
  const ScoresGrads qk = attention_scores_backward(datt, q, k, scale);
  const at::Tensor d = datt.masked_fill(at::ones({T, T}, at::kBool).triu(1), 0.0) * scale;
  loops_expect_close(qk.dq, d.matmul(k), tol, "dq");
  loops_expect_close(qk.dk, d.transpose(-2, -1).matmul(q), tol, "dk");
}

TEST(CpuLoops, CausalAttentionAgreesWithTheTensorOpsAtOddShapes) { expect_attention_agrees(at::kDouble, 21, 1e-13); }

TEST(CpuLoops, CausalAttentionAgreesWithTheTensorOpsInFloat32AndWithRowsReadInPlace) {
  expect_attention_agrees(at::kFloat, 21, 1e-4);
  expect_attention_agrees(at::kFloat, 32, 1e-4);
  expect_attention_agrees(at::kDouble, 32, 2e-13);
}

// 21 rows: two blocks of 8 and 5 rows left over
TEST(CpuLoops, LayerNormAgreesWithTheTensorOpsOverBlocksAndTheRest) {
  const at::Tensor x = loops_draw({3, 7, 10}, 4).requires_grad_(true), w = loops_draw({10}, 5).requires_grad_(true),
                   b = loops_draw({10}, 6).requires_grad_(true);
  const at::Tensor ref = at::layer_norm(x, {10}, w, b, kLayerNormEps);
  const at::Tensor dout = loops_draw({3, 7, 10}, 7);
  ref.backward(dout);
  const at::Tensor grads[] = {x.grad(), w.grad(), b.grad()};
  at::NoGradGuard no_grad;
  LayerNormSaved saved;
  const at::Tensor out = layernorm_forward(x.detach(), w.detach(), b.detach(), &saved);
  loops_expect_close(out, ref.detach(), 1e-14, "out");
  const LayerNormGrads g = layernorm_backward(dout, saved.xhat, saved.rstd, w.detach());
  loops_expect_close(g.dx, grads[0], 1e-13, "dx");
  loops_expect_close(g.dw, grads[1], 1e-13, "dw");
  loops_expect_close(g.db, grads[2], 1e-13, "db");
}

// Under the guard, float32 products are libxsmm's (kernel::product), bit for bit; without it, at::matmul's.
TEST(KernelProducts, TheGuardRoutesTheLinearPairsProductsAndRestores) {
  if (!kernel::libxsmm_avx512())
    GTEST_SKIP() << "no libxsmm AVX-512 kernels here: the guard leaves every product to at::matmul";
  at::NoGradGuard no_grad;
  const std::int64_t M = 15, K = 7, N = 37;  // 37 columns: two 16-lane vectors and 5 past them
  const at::Tensor x = loops_draw({3, 5, K}, 8, at::kFloat), W = loops_draw({K, N}, 9, at::kFloat),
                   b = loops_draw({N}, 10, at::kFloat);
  const at::Tensor dout = loops_draw({3, 5, N}, 11, at::kFloat);
  at::Tensor product = at::empty({M, N}, at::kFloat), dW = at::empty({K, N}, at::kFloat);
  using kernel::ProductLibrary;
  kernel::product_with(ProductLibrary::kLibxsmm, {false, false, M, N, K}, x.data_ptr<float>(), W.data_ptr<float>(),
                       product.data_ptr<float>());
  kernel::product_with(ProductLibrary::kLibxsmm, {true, false, K, N, M}, x.data_ptr<float>(), dout.data_ptr<float>(),
                       dW.data_ptr<float>());
  {
    const KernelProducts guard;
    EXPECT_TRUE(KernelProducts::active());
    EXPECT_TRUE(at::equal(linear_forward(x, W, b), (product + b).view({3, 5, N})));
    EXPECT_TRUE(at::equal(linear_backward(dout, x, W, true).dW, dW));
    // dx = dout @ W^T: libxsmm's product of dout and W^T made contiguous, bit for bit (linear_backward
    // lets the product transpose W into its own scratch), and set against float64
    at::Tensor dx = at::empty({M, K}, at::kFloat);
    const at::Tensor Wt = W.t().contiguous();
    kernel::product_with(ProductLibrary::kLibxsmm, {false, false, M, K, N}, dout.data_ptr<float>(),
                         Wt.data_ptr<float>(), dx.data_ptr<float>());
    EXPECT_TRUE(at::equal(linear_backward(dout, x, W, true).dx, dx.view({3, 5, K})));
    loops_expect_close(linear_backward(dout, x, W, true).dx, dout.to(at::kDouble).matmul(W.to(at::kDouble).t()), 1e-5,
                       "dx");
  }
  EXPECT_FALSE(KernelProducts::active());
  EXPECT_TRUE(at::equal(linear_forward(x, W, b), x.matmul(W) + b));
  EXPECT_TRUE(at::equal(linear_backward(dout, x, W, true).dW, x.reshape({M, K}).t().mm(dout.reshape({M, N}))));
}

}  // namespace
}  // namespace bpn::layers
