#include "layers/embedding.h"

namespace bpn::layers {

// Forward: out = W[ix]                         ([V,C] indexed by [B,T] -> [B,T,C])
// Local:   a scatter-add of dout's rows into the rows ix selected (in index order; autograd's
//          embedding_dense_backward on the CPU also adds each row's indices in order)
// See docs/derivations.md#embedding
at::Tensor embedding_backward(const at::Tensor& dout, const at::Tensor& ix, const at::Tensor& W) {
  at::Tensor dW = at::zeros_like(W);
  dW.index_add_(0, ix.reshape({-1}), dout.reshape({-1, W.size(1)}));
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
