// A hand-derived torch::autograd::Function with two outputs: PyTorch's autograd onboarding lab in C++.
//
//   s = q k^T      q [n, d], k [m, d]  ->  s [n, m]
//   a = tanh(s)                             a [n, m]   (returned)
//   o = a v        v [m, p]            ->  o [n, p]   (returned)
//
// Attention is right in first and second order. Two broken variants show what bpn::gradcheck and
// bpn::gradgradcheck catch: AttentionSavesDetachedScores (right gradients, wrong double backward) and
// AttentionWrongGk (k's gradient forgets one path). The derivation, step by step:
// docs/derivations.md#attention_function
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>  // torch::autograd::Function (lighter than <torch/torch.h>)

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

// Shape and dtype checks, in forward: the error names the input, the shape expected and the one got.
inline void check_attention_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const auto shape = [](const at::Tensor& t) {
    std::ostringstream os;
    os << t.sizes();
    return os.str();
  };
  const auto fail = [](const std::string& what) { throw std::invalid_argument("Attention: " + what); };
  const std::pair<const char*, const at::Tensor*> inputs[] = {{"q", &q}, {"k", &k}, {"v", &v}};
  for (const auto& [name, t] : inputs) {
    if (!t->defined()) fail(std::string(name) + " is an undefined tensor");
    if (t->dim() != 2) {
      fail(std::string(name) + " must be 2-D (q [n, d], k [m, d], v [m, p]); got " + name + " " + shape(*t));
    }
  }
  if (k.size(1) != q.size(1)) {
    fail("k must be [m, d] with d = " + std::to_string(q.size(1)) + ", the columns of q " + shape(q) + "; got k " +
         shape(k));
  }
  if (v.size(0) != k.size(0)) {
    fail("v must be [m, p] with m = " + std::to_string(k.size(0)) + ", the rows of k " + shape(k) + "; got v " +
         shape(v));
  }
  if (k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type()) {
    fail(std::string("q, k and v must have the same dtype; got q ") + c10::toString(q.scalar_type()) + ", k " +
         c10::toString(k.scalar_type()) + ", v " + c10::toString(v.scalar_type()));
  }
}

// The sum of two gradient contributions, either of which may be undefined (= zero, not materialized).
inline at::Tensor add_defined(const at::Tensor& x, const at::Tensor& y) {
  if (!x.defined()) return y;
  if (!y.defined()) return x;
  return x + y;
}

// The backward, shared by the three Functions. g_<name> is dloss/d<name> and has <name>'s shape.
// g_o or g_a undefined means that output got no gradient. Every line is a differentiable ATen op, so
// autograd can differentiate this backward again (double backward, gradgradcheck).
inline torch::autograd::variable_list attention_backward(const at::Tensor& g_o, const at::Tensor& g_a,
                                                         const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                         const at::Tensor& a) {
  // forward: o = a.mm(v)     local: do/dv = a (matmul: the other factor, transposed)
  const at::Tensor g_v = g_o.defined() ? a.t().mm(g_o) : at::Tensor();  // [m, p]
  // forward: o = a.mm(v)     local: do/da = v; a is also an output, so its two gradients add (a fork)
  const at::Tensor g_a_total = add_defined(g_a, g_o.defined() ? g_o.mm(v.t()) : at::Tensor());  // [n, m]
  if (!g_a_total.defined()) return {at::Tensor(), at::Tensor(), g_v};  // neither output got a gradient
  // forward: a = tanh(s)     local: da/ds = 1 - tanh(s)^2 = 1 - a^2 (from the saved output)
  const at::Tensor g_s = g_a_total * (1 - a * a);  // [n, m]
  // forward: s = q.mm(k.t()) local: ds/dq = k
  const at::Tensor g_q = g_s.mm(k);  // [n, d]
  // forward: s = q.mm(k.t()) local: ds/dk = q (s^T = k q^T)
  const at::Tensor g_k = g_s.t().mm(q);  // [m, d]
  return {g_q, g_k, g_v};
}

// Right in first and second order: it saves only inputs and outputs, which keep their graph.
struct Attention : torch::autograd::Function<Attention> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q,
                                                const at::Tensor& k, const at::Tensor& v) {
    check_attention_inputs(q, k, v);
    const at::Tensor s = q.mm(k.t());  // [n, m]
    const at::Tensor a = at::tanh(s);  // [n, m]
    const at::Tensor o = a.mm(v);      // [n, p]
    // a is an output: saved with save_for_backward (not as a member of ctx), autograd records it as
    // this Function's output, and in double backward its graph leads back here.
    ctx->save_for_backward({q, k, v, a});
    ctx->set_materialize_grads(false);  // an output without a gradient arrives undefined, not as zeros
    return {o, a};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    return attention_backward(/*g_o=*/grads[0], /*g_a=*/grads[1], saved[0], saved[1], saved[2], saved[3]);
  }
};

// BUG (second order only): saves the scores s, computed in forward where grad mode is off, and
// recomputes a = tanh(s) in backward. The numbers are right, so gradcheck passes; but s is neither an
// input nor an output, it has no graph back to q and k, and double backward misses every term through
// a (pytorch/pytorch#58509, #76185). gradgradcheck fails.
struct AttentionSavesDetachedScores : torch::autograd::Function<AttentionSavesDetachedScores> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q,
                                                const at::Tensor& k, const at::Tensor& v) {
    check_attention_inputs(q, k, v);
    const at::Tensor s = q.mm(k.t());
    const at::Tensor a = at::tanh(s);
    const at::Tensor o = a.mm(v);
    ctx->save_for_backward({q, k, v, s});  // BUG: s is an intermediate, a constant to autograd
    return {o, a};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor a = at::tanh(saved[3]);  // BUG: the right a, but not a function of q and k
    return attention_backward(grads[0], grads[1], saved[0], saved[1], saved[2], a);
  }
};

// BUG (first order): k's gradient from o's path alone, as if a were not also an output: g_a's term is
// lost for k (q's and v's gradients are right). gradcheck fails on (output 1 = a, input k).
struct AttentionWrongGk : torch::autograd::Function<AttentionWrongGk> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q,
                                                const at::Tensor& k, const at::Tensor& v) {
    check_attention_inputs(q, k, v);
    const at::Tensor a = at::tanh(q.mm(k.t()));
    const at::Tensor o = a.mm(v);
    ctx->save_for_backward({q, k, v, a});
    return {o, a};  // grads materialized (the default): zeros for an output that got no gradient
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &a = saved[3];
    torch::autograd::variable_list g = attention_backward(grads[0], grads[1], q, k, v, a);
    g[1] = attention_backward(grads[0], /*g_a=*/at::Tensor(), q, k, v, a)[1];  // BUG: the fork forgotten
    return g;
  }
};
