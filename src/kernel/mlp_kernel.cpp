#include "kernel/mlp_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <tuple>
#include <utility>
#include <vector>

#include "kernel/loop_clones.h"
#include "kernel/products.h"
#include "kernel/vector_math.h"
#include "models/mlp/config.h"
#include "util/errors.h"

namespace bpn::kernel {

namespace {

// h = tanh(hpreact) [size]: libmvec's vector tanhf where glibc has it (no dispatch, no tensor), else ATen's.
void tanh_forward(const float* x, float* y, std::int64_t size) {
  if (have_vector_tanh()) {
    vector_tanh(x, y, size);
  } else {
    at::Tensor out = at::from_blob(y, {size}, at::kFloat);
    at::tanh_out(out, at::from_blob(const_cast<float*>(x), {size}, at::kFloat));
  }
}

// Forward line: loss = F.cross_entropy(logits, Yb); dlogits = (softmax(logits) - onehot(Yb)) / n.
// See docs/derivations.md#cross_entropy_backward
BPN_KERNEL_LOOP void cross_entropy_backward(const float* probs, const std::int64_t* Y, std::int64_t n, std::int64_t V,
                                            float* dlogits) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < V; ++j) dlogits[i * V + j] = probs[i * V + j] * inv_n;
    dlogits[i * V + Y[i]] -= inv_n;
  }
}

// A linear layer's three products, x [n, in], W [in, out], dout [n, out]:
ProductShape forward_product(std::int64_t n, std::int64_t in, std::int64_t out) {  // x @ W
  return {/*ta=*/false, /*tb=*/false, n, out, in};
}
ProductShape dW_product(std::int64_t n, std::int64_t in, std::int64_t out) {  // x^T @ dout: [in, n] @ [n, out]
  return {/*ta=*/true, /*tb=*/false, in, out, n};
}
ProductShape dx_product(std::int64_t n, std::int64_t in, std::int64_t out) {  // dout @ W^T: [n, out] @ [out, in]
  return {/*ta=*/false, /*tb=*/true, n, in, out};
}

// Forward line: out = x @ W + b. dx = dout @ W^T, dW = x^T @ dout.
// See docs/derivations.md#logits_backward
void linear_backward(const float* dout, const float* x, const float* W, std::int64_t n, std::int64_t in,
                     std::int64_t out, float* dx, float* dW) {
  product(dW_product(n, in, out), x, dout, dW);
  if (dx) product(dx_product(n, in, out), dout, W, dx);
}

// The loops below run row by row (contiguous, vectorizable) with per-column sums in double, compiled
// for AVX-512, AVX2 and the baseline without fma contraction (kernel/loop_clones.h).

// Per-column scratch, allocated once per thread, type and slot, grown to the widest asked for.
template <typename T>
T* column_buffer(std::size_t slot, std::int64_t width) {
  thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[slot];
  if (static_cast<std::int64_t>(b.size()) < width) b.resize(static_cast<std::size_t>(width));
  return b.data();
}

// Column sums in double, sum[j] = term(0, j) + term(1, j) + ... + term(n-1, j), each column in row order:
// kColumnBlock columns at a time, their accumulators held in registers across the rows (with the sums
// in memory, each row was a load, an add and a store per column, and the step waited on them), then 8,
// then the last 8 columns again (V = 27: 0-7, 8-15, 16-23, 19-26), where the overlap recomputes the same
// sums in the same order; 1 at a time below 8 columns. Any number of terms is summed side by side
// (BatchNorm's backward takes two).
constexpr std::int64_t kColumnBlock = 32;

template <std::int64_t B, typename... Term, std::size_t... k>
__attribute__((always_inline)) inline void column_block_sums(std::int64_t n, std::int64_t j0, double* const* sums,
                                                             std::index_sequence<k...>, Term... term) {
  double acc[sizeof...(Term)][B] = {};
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t jj = 0; jj < B; ++jj) ((acc[k][jj] += term(i, j0 + jj)), ...);
  }
  for (std::size_t t = 0; t < sizeof...(Term); ++t) {
    for (std::int64_t jj = 0; jj < B; ++jj) sums[t][j0 + jj] = acc[t][jj];
  }
}

template <typename... Term>
__attribute__((always_inline)) inline void column_sums(std::int64_t n, std::int64_t width, double* const* sums,
                                                       Term... term) {
  const auto terms = std::index_sequence_for<Term...>{};
  std::int64_t j0 = 0;
  for (; j0 + kColumnBlock <= width; j0 += kColumnBlock) column_block_sums<kColumnBlock>(n, j0, sums, terms, term...);
  for (; j0 + 8 <= width; j0 += 8) column_block_sums<8>(n, j0, sums, terms, term...);
  if (j0 < width && width >= 8) {  // the last 8 columns, again where they overlap: the same sums, rewritten
    column_block_sums<8>(n, width - 8, sums, terms, term...);
    return;
  }
  for (; j0 < width; ++j0) column_block_sums<1>(n, j0, sums, terms, term...);
}

// db = dout.sum(0), summed in double.
BPN_KERNEL_LOOP void bias_backward(const float* __restrict dout, std::int64_t n, std::int64_t out,
                                   float* __restrict db) {
  double* const s[] = {column_buffer<double>(0, out)};
  column_sums(n, out, s, [&](std::int64_t i, std::int64_t j) BPN_INLINE_TERM { return double{dout[i * out + j]}; });
  for (std::int64_t j = 0; j < out; ++j) db[j] = static_cast<float>(s[0][j]);
}

// Forward line: h = torch.tanh(hpreact). Local derivative 1 - h^2.
// See docs/derivations.md#h_backward
BPN_KERNEL_LOOP void tanh_backward(const float* __restrict dh, const float* __restrict h, std::int64_t size,
                                   float* __restrict dhpreact) {
  for (std::int64_t k = 0; k < size; ++k) dhpreact[k] = dh[k] * (1.0f - h[k] * h[k]);
}

// See docs/derivations.md#batchnorm_backward
// The column sums in double; then, per column, dx = a dy + b + c bnraw in float32, with
//   a = bngain inv, b = -bngain inv sum(dy) / n, c = -bngain inv / (n-1) sum(dy bnraw)
// formed in double and rounded once (the tensor-op path does all of it in float32).
BPN_KERNEL_LOOP void batchnorm_backward(const float* __restrict dy, const float* __restrict bnraw,
                                        const float* __restrict inv, const float* __restrict bngain, std::int64_t n,
                                        std::int64_t H, float* __restrict dx, float* __restrict dbngain,
                                        float* __restrict dbnbias) {
  const double nd = static_cast<double>(n);
  double* __restrict sum_dy = column_buffer<double>(0, H);
  double* __restrict sum_dy_raw = column_buffer<double>(1, H);
  double* const sums[] = {sum_dy, sum_dy_raw};
  column_sums(
      n, H, sums, [&](std::int64_t i, std::int64_t j) BPN_INLINE_TERM { return double{dy[i * H + j]}; },
      [&](std::int64_t i, std::int64_t j)
          BPN_INLINE_TERM { return static_cast<double>(dy[i * H + j]) * bnraw[i * H + j]; });
  float* __restrict a = column_buffer<float>(0, H);
  float* __restrict b = column_buffer<float>(1, H);
  float* __restrict c = column_buffer<float>(2, H);
  for (std::int64_t j = 0; j < H; ++j) {
    dbnbias[j] = static_cast<float>(sum_dy[j]);
    dbngain[j] = static_cast<float>(sum_dy_raw[j]);
    const double k = static_cast<double>(bngain[j]) * inv[j];
    a[j] = static_cast<float>(k);
    b[j] = static_cast<float>(-k * sum_dy[j] / nd);
    c[j] = static_cast<float>(-k * sum_dy_raw[j] / (nd - 1.0));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < H; ++j) dx[i * H + j] = a[j] * dy[i * H + j] + c[j] * bnraw[i * H + j] + b[j];
  }
}

// dst[e] += src[e] for the floats of one vector of GCC's vector extension (W = 16, 8, 4 or 2 floats): one
// vector load, add and store each, compiled for the clone's instruction set (a loop of fixed length
// stayed scalar)
// (GCC drops vector_size from an alias template, not from a class template's typedef.)
template <int W>
struct Floats {
  typedef float type __attribute__((vector_size(W * sizeof(float))));
};

template <int W>
__attribute__((always_inline)) inline void add_floats(float* dst, const float* src) {
  typename Floats<W>::type a, b;
  static_assert(sizeof a == W * sizeof(float));
  std::memcpy(&a, dst, sizeof a);
  std::memcpy(&b, src, sizeof b);
  a += b;
  std::memcpy(dst, &a, sizeof a);
}

// Forward line: emb = C[Xb]. dC[Xb[i, t]] += demb[i, t] for every i, t, in index order.
// See docs/derivations.md#emb_backward
// The rows are short (E = 10): added in blocks of 16, 8, 4, 2 and 1 floats of a constant size, one
// vector operation each, in place of a loop of runtime length per row.
BPN_KERNEL_LOOP void embedding_backward(const float* __restrict dembcat, const std::int64_t* __restrict Xb,
                                        std::int64_t n, std::int64_t T, std::int64_t E, std::int64_t V,
                                        float* __restrict dC) {
  std::fill(dC, dC + V * E, 0.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t t = 0; t < T; ++t) {
      float* row = dC + Xb[i * T + t] * E;
      const float* d = dembcat + (i * T + t) * E;
      std::int64_t e = 0;
      for (; e + 16 <= E; e += 16) add_floats<16>(row + e, d + e);
      if (E - e >= 8) {
        add_floats<8>(row + e, d + e);
        e += 8;
      }
      if (E - e >= 4) {
        add_floats<4>(row + e, d + e);
        e += 4;
      }
      if (E - e >= 2) {
        add_floats<2>(row + e, d + e);
        e += 2;
      }
      if (E - e >= 1) row[e] += d[e];
    }
  }
}

BPN_KERNEL_LOOP void sgd_update(float* __restrict p, const float* __restrict g, std::int64_t size, float lr) {
  for (std::int64_t k = 0; k < size; ++k) p[k] -= lr * g[k];
}

// hpreact = bngain * (hprebn - mean) * (var + eps)^-0.5 + bnbias, var unbiased; sums in double.
// See docs/derivations.md#batchnorm_backward
BPN_KERNEL_LOOP void batchnorm_forward(const float* __restrict x, const float* __restrict bngain,
                                       const float* __restrict bnbias, std::int64_t n, std::int64_t H,
                                       float* __restrict mean, float* __restrict var, float* __restrict inv,
                                       float* __restrict bnraw, float* __restrict hpreact) {
  double* const s[] = {column_buffer<double>(0, H)};
  column_sums(n, H, s, [&](std::int64_t i, std::int64_t j) BPN_INLINE_TERM { return double{x[i * H + j]}; });
  for (std::int64_t j = 0; j < H; ++j) mean[j] = static_cast<float>(s[0][j] / static_cast<double>(n));
  double* const ss[] = {column_buffer<double>(1, H)};
  column_sums(n, H, ss, [&](std::int64_t i, std::int64_t j) BPN_INLINE_TERM {
    const double d = static_cast<double>(x[i * H + j] - mean[j]);
    return d * d;
  });
  for (std::int64_t j = 0; j < H; ++j) {
    var[j] = static_cast<float>(ss[0][j] / static_cast<double>(n - 1));
    inv[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j]) + model::kBnEps));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < H; ++j) {
      bnraw[i * H + j] = (x[i * H + j] - mean[j]) * inv[j];
      hpreact[i * H + j] = bngain[j] * bnraw[i * H + j] + bnbias[j];
    }
  }
}

}  // namespace

void require_kernel_params(const model::Params& p, const std::string& who) {
  for (const auto& [name, t] : p.named()) {
    if (t->scalar_type() != at::kFloat || !t->device().is_cpu() || !t->is_contiguous()) {
      throw InputError(who + " runs float32 contiguous CPU parameters; " + name + " is not");
    }
  }
}

namespace {
// y[i, j] += b[j] for m rows of `out`
BPN_KERNEL_LOOP void add_bias_rows(float* __restrict y, const float* __restrict b, std::int64_t m, std::int64_t out) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < out; ++j) y[i * out + j] += b[j];
  }
}

// probs[i, j] *= 1 / row_sum[i], the reciprocal rounded to float32 once per row
BPN_KERNEL_LOOP void normalize_rows(const double* __restrict row_sum, std::int64_t m, std::int64_t V,
                                    float* __restrict probs) {
  for (std::int64_t i = 0; i < m; ++i) {
    const float inv_sum = static_cast<float>(1.0 / row_sum[i]);
    for (std::int64_t j = 0; j < V; ++j) probs[i * V + j] *= inv_sum;
  }
}

// dst[r, :] = table[index[r], :] for `rows` rows of E floats. The MLP's rows are short (E = 10): below 16
// floats, copies of 8, 4, 2 and 1 floats, each of a constant size that the compiler makes into moves, in
// place of a memcpy call per row (GCC makes a plain copy loop into one).
BPN_KERNEL_LOOP void gather_rows(const float* __restrict table, const std::int64_t* __restrict index, std::int64_t rows,
                                 std::int64_t E, float* __restrict dst) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* src = table + index[r] * E;
    float* out = dst + r * E;
    if (E >= 16) {
      std::memcpy(out, src, static_cast<std::size_t>(E) * sizeof(float));
      continue;
    }
    std::int64_t e = 0;
    for (const std::int64_t width : {8, 4, 2, 1}) {
      if (E - e >= width) {
        std::memcpy(out + e, src + e, static_cast<std::size_t>(width) * sizeof(float));
        e += width;
      }
    }
  }
}
}  // namespace

void linear_rows(const float* x, const float* W, const float* b, std::int64_t m, std::int64_t in, std::int64_t out,
                 float* y) {
  product(forward_product(m, in, out), x, W, y);
  add_bias_rows(y, b, m, out);
}

std::array<NamedProduct, 6> step_products(std::int64_t n, std::int64_t in, std::int64_t hidden, std::int64_t classes) {
  return {{{"hprebn = embcat @ W1 (+ b1 after)", forward_product(n, in, hidden)},
           {"logits = h @ W2 (+ b2 after)", forward_product(n, hidden, classes)},
           {"dW2 = h^T @ dlogits", dW_product(n, hidden, classes)},
           {"dh = dlogits @ W2^T", dx_product(n, hidden, classes)},
           {"dW1 = embcat^T @ dhprebn", dW_product(n, in, hidden)},
           {"dembcat = dhprebn @ W1^T", dx_product(n, in, hidden)}}};
}

namespace {
// C [V, E], W1 [TE, H], b1 [H]
void hprebn_rows(const float* C, const float* W1, const float* b1, std::int64_t E, std::int64_t TE, std::int64_t H,
                 const std::int64_t* X, std::int64_t m, float* embcat, float* hprebn) {
  gather_rows(C, X, m * (TE / E), E, embcat);
  linear_rows(embcat, W1, b1, m, TE, H, hprebn);  // embcat @ W1 + b1
}
}  // namespace

void hprebn_rows(const model::Params& p, const std::int64_t* X, std::int64_t m, float* embcat, float* hprebn) {
  hprebn_rows(p.C.data_ptr<float>(), p.W1.data_ptr<float>(), p.b1.data_ptr<float>(), p.C.size(1), p.W1.size(0),
              p.W1.size(1), X, m, embcat, hprebn);
}

namespace {
// Softmax rows are short (V = 27) and each row's max and sum is a chain, a compare or an add per
// element; kRowGroup rows run side by side, so that the chains overlap, each formed as before (a row's
// elements in column order, the max as std::max_element keeps it: the first of the largest).
constexpr std::int64_t kRowGroup = 8;

template <std::int64_t G>
__attribute__((always_inline)) inline void row_max_shifted(const float* __restrict l, std::int64_t V,
                                                           float* __restrict e, float* __restrict row_max) {
  float mx[G];
  for (std::int64_t r = 0; r < G; ++r) mx[r] = l[r * V];
  for (std::int64_t j = 1; j < V; ++j) {
    for (std::int64_t r = 0; r < G; ++r) mx[r] = mx[r] < l[r * V + j] ? l[r * V + j] : mx[r];
  }
  for (std::int64_t r = 0; r < G; ++r) {
    row_max[r] = mx[r];
    for (std::int64_t j = 0; j < V; ++j) e[r * V + j] = l[r * V + j] - mx[r];
  }
}

template <std::int64_t G>
__attribute__((always_inline)) inline void row_sums(const float* __restrict e, std::int64_t V,
                                                    double* __restrict row_sum) {
  double sum[G] = {};
  for (std::int64_t j = 0; j < V; ++j) {
    for (std::int64_t r = 0; r < G; ++r) sum[r] += e[r * V + j];
  }
  for (std::int64_t r = 0; r < G; ++r) row_sum[r] = sum[r];
}
}  // namespace

BPN_KERNEL_LOOP double cross_entropy_rows(const float* logits, const std::int64_t* Y, std::int64_t m, std::int64_t V,
                                          float* e, float* row_max, double* row_sum) {
  std::int64_t i = 0;
  for (; i + kRowGroup <= m; i += kRowGroup) row_max_shifted<kRowGroup>(logits + i * V, V, e + i * V, row_max + i);
  for (; i < m; ++i) row_max_shifted<1>(logits + i * V, V, e + i * V, row_max + i);
  vector_exp(e, e, m * V);  // libmvec's expf (std::exp without it)
  for (i = 0; i + kRowGroup <= m; i += kRowGroup) row_sums<kRowGroup>(e + i * V, V, row_sum + i);
  for (; i < m; ++i) row_sums<1>(e + i * V, V, row_sum + i);
  double loss = 0.0;
  for (i = 0; i < m; ++i) loss += std::log(row_sum[i]) + row_max[i] - logits[i * V + Y[i]];
  return loss;
}

const KernelTable& kernel_functions() {
  static const KernelTable t = {cross_entropy_backward, linear_backward,    bias_backward, tanh_backward,
                                batchnorm_backward,     embedding_backward, sgd_update,    batchnorm_forward};
  return t;
}

MlpStepKernel::MlpStepKernel(const model::Params& p, std::int64_t n, const KernelTable& table)
    : table_(&table), n_(n), H_(p.W1.size(1)), V_(p.C.size(0)) {
  require_kernel_params(p, "the training kernel");
  if (n < 2) throw InputError("the training kernel needs a batch of at least 2 (the variance divides by n-1)");
  E_ = p.C.size(1);
  T_ = p.W1.size(0) / E_;
  const auto f = at::TensorOptions().dtype(at::kFloat);
  embcat_ = at::empty({n, T_ * E_}, f);
  hprebn_ = at::empty({n, H_}, f);
  mean_ = at::empty({1, H_}, f);
  var_ = at::empty({1, H_}, f);
  inv_ = at::empty({1, H_}, f);
  bnraw_ = at::empty({n, H_}, f);
  hpreact_ = at::empty({n, H_}, f);
  h_ = at::empty({n, H_}, f);
  logits_ = at::empty({n, V_}, f);
  probs_ = at::empty({n, V_}, f);
  loss_ = at::empty({}, f);
  row_max_ = at::empty({n}, f);
  row_sum_ = at::empty({n}, at::TensorOptions().dtype(at::kDouble));
  dlogits_ = at::empty({n, V_}, f);
  dh_ = at::empty({n, H_}, f);
  dhpreact_ = at::empty({n, H_}, f);
  dhprebn_ = at::empty({n, H_}, f);
  dembcat_ = at::empty({n, T_ * E_}, f);
  dC_ = at::empty_like(p.C);
  dW1_ = at::empty_like(p.W1);
  db1_ = at::empty_like(p.b1);
  dW2_ = at::empty_like(p.W2);
  db2_ = at::empty_like(p.b2);
  dbngain_ = at::empty_like(p.bngain);
  dbnbias_ = at::empty_like(p.bnbias);
  X_ = at::empty({n, T_}, at::TensorOptions().dtype(at::kLong));
  Y_ = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  ix_ = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  auto f32 = [](at::Tensor& t) { return t.data_ptr<float>(); };
  raw_ = {f32(embcat_),
          f32(hprebn_),
          f32(mean_),
          f32(var_),
          f32(inv_),
          f32(bnraw_),
          f32(hpreact_),
          f32(h_),
          f32(logits_),
          f32(row_max_),
          f32(probs_),
          f32(loss_),
          row_sum_.data_ptr<double>(),
          f32(dlogits_),
          f32(dh_),
          f32(dhpreact_),
          f32(dhprebn_),
          f32(dembcat_),
          f32(dC_),
          f32(dW1_),
          f32(db1_),
          f32(dW2_),
          f32(db2_),
          f32(dbngain_),
          f32(dbnbias_),
          X_.data_ptr<std::int64_t>(),
          Y_.data_ptr<std::int64_t>()};
}

float MlpStepKernel::step(model::Params& p, const at::Tensor& Xb, const at::Tensor& Yb, float lr) {
  X_.copy_(Xb);
  Y_.copy_(Yb);
  return run(p, lr);
}

float MlpStepKernel::step_rows(model::Params& p, const at::Tensor& Xtr, const at::Tensor& Ytr, const at::Tensor& ix,
                               float lr) {
  if (!Xtr.is_contiguous() || !Ytr.is_contiguous() || Xtr.size(1) != T_ || Ytr.numel() != Xtr.size(0) ||
      ix.numel() != n_) {
    throw InputError("the training kernel needs the contiguous split [N, " + std::to_string(T_) +
                     "] with N targets and " + std::to_string(n_) + " rows (got X " + c10::str(Xtr.sizes()) + ", Y " +
                     c10::str(Ytr.sizes()) + ", " + std::to_string(ix.numel()) +
                     " rows): pass the split and the rows it was made for");
  }
  // The held split's memory cannot be another's: the same pointer and sizes are the same split.
  auto held = [](const at::Tensor& t, const at::Tensor& kept) {
    return kept.defined() && t.data_ptr() == kept.data_ptr() && t.sizes() == kept.sizes();
  };
  if (!held(Xtr, split_X_) || !held(Ytr, split_Y_)) read_split(Xtr, Ytr);
  const std::int64_t* rows = ix.data_ptr<std::int64_t>();
  std::int64_t* X = raw_.X;
  std::int64_t* Y = raw_.Y;
  // Row r's contexts at xs + r * x_stride, its target at ys[r * y_stride]
  auto gather = [&](const auto* xs, std::int64_t x_stride, const auto* ys, std::int64_t y_stride) {
    for (std::int64_t i = 0; i < n_; ++i) {  // ask for every row before the first is read
      __builtin_prefetch(xs + rows[i] * x_stride);
      __builtin_prefetch(ys + rows[i] * y_stride);
    }
    for (std::int64_t i = 0; i < n_; ++i) {
      for (std::int64_t t = 0; t < T_; ++t) X[i * T_ + t] = xs[rows[i] * x_stride + t];  // Xtr[ix]
      Y[i] = ys[rows[i] * y_stride];                                                     // Ytr[ix]
    }
  };
  if (!split_XYb_.empty()) {
    // each row's T context bytes and its target byte side by side: one cache line per row (T = 3: 4 bytes,
    // never across a line; for other T a row crosses a line now and then)
    gather(split_XYb_.data(), T_ + 1, split_XYb_.data() + T_, T_ + 1);
  } else {
    gather(Xtr.data_ptr<std::int64_t>(), T_, Ytr.data_ptr<std::int64_t>(), 1);
  }
  return run(p, lr);
}

void MlpStepKernel::read_split(const at::Tensor& Xtr, const at::Tensor& Ytr) {
  split_X_ = Xtr;
  split_Y_ = Ytr;
  split_XYb_.clear();
  const std::int64_t* xs = Xtr.data_ptr<std::int64_t>();
  const std::int64_t* ys = Ytr.data_ptr<std::int64_t>();
  auto is_byte = [](std::int64_t v) { return v >= 0 && v < 256; };
  if (!std::all_of(xs, xs + Xtr.numel(), is_byte) || !std::all_of(ys, ys + Ytr.numel(), is_byte)) return;
  const std::int64_t N = Ytr.numel();
  split_XYb_.resize(static_cast<std::size_t>(N * (T_ + 1)));
  for (std::int64_t r = 0; r < N; ++r) {
    std::copy(xs + r * T_, xs + (r + 1) * T_, split_XYb_.begin() + r * (T_ + 1));
    split_XYb_[static_cast<std::size_t>(r * (T_ + 1) + T_)] = static_cast<std::uint8_t>(ys[r]);
  }
}

float MlpStepKernel::run(model::Params& p, float lr) {
  const KernelTable& k = *table_;
  const Raw& w = raw_;
  const std::int64_t n = n_, TE = T_ * E_, H = H_, V = V_, E = E_;
  // Each parameter's memory, taken once per step (each data_ptr call checks the tensor), in p.tensors()'s order
  const auto params = p.tensors();
  std::array<float*, std::tuple_size_v<decltype(params)>> q;
  for (std::size_t i = 0; i < params.size(); ++i) q[i] = params[i]->data_ptr<float>();
  float *const C = q[0], *const W1 = q[1], *const b1 = q[2], *const W2 = q[3], *const b2 = q[4], *const bngain = q[5],
               *const bnbias = q[6];
  // ---- forward ----
  hprebn_rows(C, W1, b1, E, TE, H, w.X, n, w.embcat, w.hprebn);  // C[Xb] flattened, @ W1 + b1
  k.batchnorm_forward(w.hprebn, bngain, bnbias, n, H, w.mean, w.var, w.inv, w.bnraw, w.hpreact);
  tanh_forward(w.hpreact, w.h, n * H);
  linear_rows(w.h, W2, b2, n, H, V, w.logits);  // h @ W2 + b2
  // softmax and cross-entropy: probs = exp(logits - rowmax), then each row's sum (in double) normalises it
  const double loss = cross_entropy_rows(w.logits, w.Y, n, V, w.probs, w.row_max, w.row_sum);
  normalize_rows(w.row_sum, n, V, w.probs);
  *w.loss = static_cast<float>(loss / static_cast<double>(n));
  // ---- backward ----
  k.cross_entropy_backward(w.probs, w.Y, n, V, w.dlogits);
  k.linear_backward(w.dlogits, w.h, W2, n, H, V, w.dh, w.dW2);
  k.bias_backward(w.dlogits, n, V, w.db2);
  k.tanh_backward(w.dh, w.h, n * H, w.dhpreact);
  k.batchnorm_backward(w.dhpreact, w.bnraw, w.inv, bngain, n, H, w.dhprebn, w.dbngain, w.dbnbias);
  k.linear_backward(w.dhprebn, w.embcat, W1, n, TE, H, w.dembcat, w.dW1);
  k.bias_backward(w.dhprebn, n, H, w.db1);
  k.embedding_backward(w.dembcat, w.X, n, T_, E, V, w.dC);
  // ---- update ----
  if (lr != 0.0f) {
    float* const grads[] = {w.dC, w.dW1, w.db1, w.dW2, w.db2, w.dbngain, w.dbnbias};  // in that order
    static_assert(std::size(grads) == std::tuple_size_v<decltype(params)>);
    for (std::size_t i = 0; i < params.size(); ++i) k.sgd_update(q[i], grads[i], params[i]->numel(), lr);
  }
  return *w.loss;
}

model::FusedForward MlpStepKernel::forward() const {
  model::FusedForward f;
  f.embcat = embcat_;
  f.emb = embcat_.view({n_, T_, E_});
  f.hprebn = hprebn_;
  f.bn.hpreact = hpreact_;
  f.bn.bnraw = bnraw_;
  f.bn.bnvar_inv = inv_;
  f.bn.bnmean = mean_;
  f.bn.bnvar = var_;
  f.h = h_;
  f.logits = logits_;
  f.loss = loss_;
  return f;
}

model::FusedGrads MlpStepKernel::grads() const {
  model::FusedGrads g;
  g.dlogits = dlogits_;
  g.dh = dh_;
  g.dhpreact = dhpreact_;
  g.dhprebn = dhprebn_;
  g.dembcat = dembcat_;
  g.demb = dembcat_.view({n_, T_, E_});
  g.params = {dC_, dW1_, db1_, dW2_, db2_, dbngain_, dbnbias_};
  return g;
}

}  // namespace bpn::kernel
