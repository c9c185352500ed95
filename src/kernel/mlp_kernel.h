// The MLP's training step on raw memory (issue 14): one workspace allocated once, the fused forward,
// the closed-form backward and the SGD update in a few passes over contiguous float32 arrays, the six
// matmuls through kernel/products.h (libxsmm's JIT kernels or the BLAS LibTorch links, per product and
// instruction set). The step's arrays are allocated once, and the tensor of the batch's indices too
// (batch_rows(): model::draw_rows fills it with at::randint's numbers, so that both paths see the same
// batches).
//
// Chain of trust: autograd verifies the tensor-op backward (model/backward.h, `check`); the kernel is
// verified against autograd of the same parameters and batch by the verdict rule (verify_step, the
// code of check's Exercise 4 and of `train --verify-every`), and tests hold it to the tensor-op step
// (tests/kernel/mlp_kernel_test.cpp). The math is the tensor-op path's: docs/derivations.md#fused_backward.
//
// Its backward pieces are called through KernelTable, as the tensor-op path's are through
// model::BackwardTable, so that the mutation catalog can replace one at a time.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel/products.h"
#include "models/mlp/backward.h"
#include "models/mlp/forward.h"
#include "models/mlp/params.h"

namespace bpn::kernel {

// Shapes: n rows, T*E = fan_in inputs, H hidden, V classes. All arrays row-major float32.
struct KernelTable {
  // dlogits = (softmax(logits) - onehot(Y)) / n. probs [n, V] holds softmax(logits) on entry.
  void (*cross_entropy_backward)(const float* probs, const std::int64_t* Y, std::int64_t n, std::int64_t V,
                                 float* dlogits);
  // Linear out = x @ W + b: dx = dout @ W^T [n, in] (skipped if dx is null), dW = x^T @ dout [in, out].
  void (*linear_backward)(const float* dout, const float* x, const float* W, std::int64_t n, std::int64_t in,
                          std::int64_t out, float* dx, float* dW);
  // db = dout.sum(0): [out]
  void (*bias_backward)(const float* dout, std::int64_t n, std::int64_t out, float* db);
  // dhpreact = dh * (1 - h^2)
  void (*tanh_backward)(const float* dh, const float* h, std::int64_t size, float* dhpreact);
  // BatchNorm (unbiased variance), closed form: dbngain = sum(dy * bnraw), dbnbias = sum(dy),
  // dx = bngain * inv / n * (n dy - dbnbias - n/(n-1) bnraw dbngain).
  void (*batchnorm_backward)(const float* dy, const float* bnraw, const float* inv, const float* bngain, std::int64_t n,
                             std::int64_t H, float* dx, float* dbngain, float* dbnbias);
  // dC: zero, then each row of dembcat [n, T*E] added into the rows Xb [n, T] picked (in index order).
  void (*embedding_backward)(const float* dembcat, const std::int64_t* Xb, std::int64_t n, std::int64_t T,
                             std::int64_t E, std::int64_t V, float* dC);
  // p -= lr * g
  void (*sgd_update)(float* p, const float* g, std::int64_t size, float lr);
  // The forward's BatchNorm: mean, unbiased variance, inv = (var + eps)^-0.5, bnraw, hpreact.
  void (*batchnorm_forward)(const float* hprebn, const float* bngain, const float* bnbias, std::int64_t n,
                            std::int64_t H, float* mean, float* var, float* inv, float* bnraw, float* hpreact);
};

const KernelTable& kernel_functions();

// The step's six products (kernel/products.h shapes, row-major) for n rows, `in` = T*E inputs, `hidden`
// and `classes`, as the step runs them: what the benchmark times and the products' tests choose for.
struct NamedProduct {
  const char* name;
  ProductShape shape;
};
std::array<NamedProduct, 6> step_products(std::int64_t n, std::int64_t in, std::int64_t hidden, std::int64_t classes);

// Pieces of the forward shared by the step and the evaluation (kernel/mlp_eval.h):
// Throws InputError unless every parameter is float32, contiguous and on the CPU (`who`: the caller).
void require_kernel_params(const model::Params& p, const std::string& who);
// y [m, out] = x [m, in] @ W [in, out] + b [out]: the product rounded first (kernel/products.h), b added
// after it, as x.matmul(W) + b does (so the kernel's forward is autograd's where the products agree).
void linear_rows(const float* x, const float* W, const float* b, std::int64_t m, std::int64_t in, std::int64_t out,
                 float* y);
// For m rows of contexts X [m, T]: embcat = C[X] flattened [m, T*E], hprebn = embcat @ W1 + b1 [m, H].
void hprebn_rows(const model::Params& p, const std::int64_t* X, std::int64_t m, float* embcat, float* hprebn);
// Softmax cross-entropy of m rows of logits [m, V] with targets Y: e = exp(logits - row_max) [m, V]
// (all m*V in one libmvec call), row_sum[i] = sum_j e[i, j] in double. Returns the sum over the rows
// of log(row_sum) + row_max - logits[i, Y[i]], in double.
double cross_entropy_rows(const float* logits, const std::int64_t* Y, std::int64_t m, std::int64_t V, float* e,
                          float* row_max, double* row_sum);

class MlpStepKernel {
 public:
  // For the shapes of `p` (float32, CPU) and a batch of n rows; allocates the workspace once.
  MlpStepKernel(const model::Params& p, std::int64_t n, const KernelTable& table = kernel_functions());

  // One step: the forward and backward for the batch, then p -= lr * grad in place. p must keep the
  // shapes it was built for, float32, contiguous, CPU. Returns the loss.
  float step(model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb, float lr);
  // The same for the rows `ix` [n] of the training split (Xtr [N, T], Ytr [N], int64, contiguous):
  // the batch is gathered inside the kernel, with no tensor made for it, from a byte copy of the split
  // made on its first step (where every index is below 256). The kernel holds the split's tensors; they
  // must not be changed in place while it trains on them (other memory or sizes are read afresh).
  float step_rows(model::Params& p, const at::Tensor& Xtr, const at::Tensor& Ytr, const at::Tensor& ix, float lr);
  // A tensor [n] (int64) the kernel keeps for the rows of the next batch, so that the trainer draws them
  // (model::draw_rows: the numbers of at::randint from the same generator) into memory made once.
  at::Tensor& batch_rows() { return ix_; }

  // After step(): what it computed, as tensors that share the workspace (valid until the next step),
  // in the shapes of the tensor-op path, so that verify_step can judge them.
  model::FusedForward forward() const;
  model::FusedGrads grads() const;

 private:
  const KernelTable* table_;
  std::int64_t n_, T_, E_, H_, V_;
  // The workspace, one allocation per array, made once.
  at::Tensor embcat_, hprebn_, mean_, var_, inv_, bnraw_, hpreact_, h_, logits_, row_max_, row_sum_, probs_, loss_;
  at::Tensor dlogits_, dh_, dhpreact_, dhprebn_, dembcat_;
  at::Tensor dC_, dW1_, db1_, dW2_, db2_, dbngain_, dbnbias_;
  at::Tensor X_, Y_;  // the batch, gathered by step_rows (or copied by step)
  at::Tensor ix_;     // batch_rows()
  // The split step_rows reads, with one byte per index where every index is below 256 (an int64 split is
  // megabytes, and each random row a cache and TLB miss; the bytes stay in the cache), each row's T
  // context bytes and its target side by side (one cache line per row where T + 1 divides 64, as T = 3
  // does, not two): made on the first step_rows of a split, which the kernel then holds (so that no
  // other split can have its memory).
  at::Tensor split_X_, split_Y_;
  std::vector<std::uint8_t> split_XYb_;  // [N, T+1]; empty: an index past 255, the int64 split is read
  void read_split(const at::Tensor& Xtr, const at::Tensor& Ytr);
  // The same arrays' data pointers, taken once (a data_ptr call per array per step was ~1% of the step).
  struct Raw {
    float *embcat, *hprebn, *mean, *var, *inv, *bnraw, *hpreact, *h, *logits, *row_max, *probs, *loss;
    double* row_sum;
    float *dlogits, *dh, *dhpreact, *dhprebn, *dembcat;
    float *dC, *dW1, *db1, *dW2, *db2, *dbngain, *dbnbias;
    std::int64_t *X, *Y;
  } raw_{};
  float run(model::Params& p, float lr);  // the step on X_, Y_
};

}  // namespace bpn::kernel
