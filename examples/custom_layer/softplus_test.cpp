// Verifying your own backward: a hand-derived softplus layer, out = log(1 + exp(x)), checked element
// by element against autograd with the harness's verdict rule, and against central differences.
#include <gtest/gtest.h>

#include "testing/grad_assert.h"  // EXPECT_GRAD_ACCURATE
#include "verify/graph.h"         // compare_graph: any model, three dtypes, one verdict
#include "verify/numeric.h"       // central differences

// Forward: out = log(1 + exp(x))
// Local:   d out / dx = exp(x) / (1 + exp(x)) = sigmoid(x)
at::Tensor softplus_forward(const at::Tensor& x) { return at::log1p(at::exp(x)); }
at::Tensor softplus_backward(const at::Tensor& dout, const at::Tensor& x) { return dout * at::sigmoid(x); }

// The model the harness checks: loss = sum(softplus(x) * w), with x a leaf and the output recorded.
bpn::verify::GraphRun softplus_graph(at::ScalarType dtype) {
  const at::Tensor x0 = at::linspace(-4, 4, 24, at::kDouble).reshape({4, 6});
  const at::Tensor w = at::cos(at::arange(24, at::kDouble)).reshape({4, 6}).to(dtype);
  bpn::verify::GraphRun run;
  at::Tensor x = x0.to(dtype).set_requires_grad(true);
  at::Tensor out = softplus_forward(x);
  run.parameters = {{"x", x}};
  run.intermediates = {{"out", out}};
  run.loss = (out * w).sum();
  run.manual_backward = [x, w] {  // dloss/dout = w, then our backward
    return bpn::verify::NamedTensors{{"out", w}, {"x", softplus_backward(w, x.detach())}};
  };
  return run;
}

TEST(Softplus, EveryGradientPassesTheVerdictInBothDtypes) {
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (bpn::verify::Row& row : bpn::verify::compare_graph(softplus_graph, dtype).rows) {
      bpn::verify::judge(row, /*expect_exact=*/false);
      EXPECT_TRUE(row.pass) << row.cmp.name << ": " << row.note;
    }
  }
}

TEST(Softplus, MatchesCentralDifferences) {
  at::Tensor x = at::linspace(-4, 4, 24, at::kDouble);
  const at::Tensor w = at::cos(at::arange(24, at::kDouble));
  const at::Tensor numeric =
      bpn::verify::central_difference([&] { return (softplus_forward(x) * w).sum().item<double>(); }, x, 1e-6);
  const at::Tensor manual = softplus_backward(w, x);
  // The autograd column is autograd's gradient of the same forward, not the manual one again
  at::Tensor leaf = x.detach().clone().set_requires_grad(true);
  (softplus_forward(leaf) * w).sum().backward();
  const auto row = bpn::verify::compare_three("softplus", "x", manual, leaf.grad(), numeric,
                                              bpn::verify::gradcheck_tolerance(at::kDouble));
  EXPECT_TRUE(row.manual_pass) << row.manual_abs;
  EXPECT_TRUE(row.autograd_pass) << row.autograd_abs;
  EXPECT_GRAD_ACCURATE(manual.to(at::kFloat), numeric, numeric.to(at::kFloat));
}

// The harness catches a wrong derivative (here: the derivative of log(exp(x)) = x, i.e. 1).
TEST(Softplus, AWrongBackwardFails) {
  bpn::verify::GraphFactory wrong = [](at::ScalarType dtype) {
    bpn::verify::GraphRun run = softplus_graph(dtype);
    const at::Tensor w = run.manual_backward()[0].second;
    run.manual_backward = [w] { return bpn::verify::NamedTensors{{"out", w}, {"x", w}}; };
    return run;
  };
  bool caught = false;
  for (bpn::verify::Row& row : bpn::verify::compare_graph(wrong, at::kDouble).rows) {
    bpn::verify::judge(row, false);
    caught = caught || !row.pass;
  }
  EXPECT_TRUE(caught);
}
