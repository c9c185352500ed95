#include "layers/embedding.h"

#include <ATen/Dispatch.h>

#include <string>

#include "layers/cpu_loops.h"
#include "util/errors.h"

namespace bpn::layers {

// Forward: out = W[ix]                         ([V,C] indexed by [B,T] -> [B,T,C])
// Local:   a scatter-add of dout's rows into the rows ix selected (in index order; autograd's
//          embedding_dense_backward on the CPU also adds each row's indices in order)
// See docs/derivations.md#embedding
at::Tensor embedding_backward(const at::Tensor& dout, const at::Tensor& ix, const at::Tensor& W) {
  at::Tensor dW = at::zeros_like(W);
  if (!cpu_loops({dout, W}) || !ix.device().is_cpu() || ix.scalar_type() != at::kLong) {
    dW.index_add_(0, ix.reshape({-1}), dout.reshape({-1, W.size(1)}));
    return dW;
  }
  // The same scatter-add as a loop on the CPU: row ix[i] += dout[i], for i in order (bit-identical to
  // index_add_, which adds in index order too; ATen 1.13's runs three ops per index)
  const at::Tensor d = dout.reshape({-1, W.size(1)}).contiguous(), idx = ix.reshape({-1}).contiguous();
  const std::int64_t n = idx.numel(), C = W.size(1), V = W.size(0);
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "embedding_backward", [&] {
    const scalar_t* pd = d.data_ptr<scalar_t>();
    const std::int64_t* pi = idx.data_ptr<std::int64_t>();
    scalar_t* pw = dW.data_ptr<scalar_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (pi[i] < 0 || pi[i] >= V)
        throw InputError("embedding_backward: index " + std::to_string(pi[i]) + " is outside the table's " +
                         std::to_string(V) + " rows");
      scalar_t* row = pw + pi[i] * C;
      for (std::int64_t c = 0; c < C; ++c) row[c] += pd[i * C + c];
    }
  });
  return dW;
}

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t dim, at::Generator& g)
    : weight(at::randn({num_embeddings, dim}, g, at::kFloat)) {}

at::Tensor Embedding::forward(const at::Tensor& ix) {
  ix_ = ix;
  return at::embedding(weight, ix);
}

at::Tensor Embedding::backward(const at::Tensor& dout) {
  dweight = table->embedding_backward(dout, ix_, weight);
  return {};
}

}  // namespace bpn::layers
