#include "kernel/products.h"

#include <ATen/ATen.h>

#include <vector>

#ifdef BPNINJA_HAVE_LIBXSMM
#include <libxsmm.h>
#include <libxsmm_generator.h>
#endif

namespace bpn::kernel {

#ifdef BPNINJA_HAVE_BLAS
// The Fortran BLAS interface of libblas.so.3 (LP64), the library LibTorch's own matmuls call.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

// BLAS is column-major: it computes C^T = op(B)^T op(A)^T, so sgemm_ gets the operands swapped.
void blas_gemm(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, const float* B,
               float* C) {
#ifdef BPNINJA_HAVE_BLAS
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
  const int lda = static_cast<int>(tb ? K : N), ldb = static_cast<int>(ta ? M : K), ldc = static_cast<int>(N);
  const float alpha = 1.0f, beta = 0.0f;
  sgemm_(tb ? "T" : "N", ta ? "T" : "N", &m, &n, &k, &alpha, B, &lda, A, &ldb, &beta, C, &ldc);
#else
  const auto f = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor a =
      ta ? at::from_blob(const_cast<float*>(A), {K, M}, f).t() : at::from_blob(const_cast<float*>(A), {M, K}, f);
  const at::Tensor b =
      tb ? at::from_blob(const_cast<float*>(B), {N, K}, f).t() : at::from_blob(const_cast<float*>(B), {K, N}, f);
  at::Tensor c = at::from_blob(C, {M, N}, f);
  at::mm_out(c, a, b);
#endif
}

const char* library_name(ProductLibrary library) {
  return library == ProductLibrary::kLibxsmm ? "libxsmm" : "OpenBLAS";
}

namespace {

// The largest product measured is the GPT's 512 x 256 x 64 (2^23 multiply-adds); libxsmm's kernels do no
// cache blocking, so products past twice that go to OpenBLAS, which does.
constexpr std::int64_t kLibxsmmMaxMNK = std::int64_t{1} << 24;

void blas_product(const ProductShape& s, const float* A, const float* B, float* C) {
  blas_gemm(s.ta, s.tb, s.M, s.N, s.K, A, B, C);
}

#ifdef BPNINJA_HAVE_LIBXSMM
int target_archid() {
  static const int id = [] {
    libxsmm_init();
    return libxsmm_get_target_archid();
  }();
  return id;
}

// One shape's libxsmm kernel, made once per thread: the row-major product formed column-major as
// C^T = op(B)^T op(A)^T. With tb, B^T is formed in `transposed_b` first and the kernel multiplies by it.
struct Planned {
  ProductShape shape;
  libxsmm_smmfunction kernel = nullptr;        // nullptr: libxsmm has none, OpenBLAS runs it
  std::vector<float> transposed_b;             // [K, N] when shape.tb
  libxsmm_xtransfunction transpose = nullptr;  // B^T's JIT kernel when shape.tb (nullptr: libxsmm_otrans)
};

libxsmm_smmfunction dispatch(const ProductShape& s) {
  const int flags = s.ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;  // B (the transposed one, if tb) is row-major [K, N]
  const libxsmm_blasint m = s.N, n = s.M, k = s.K, lda = s.N, ldb = s.ta ? s.M : s.K, ldc = s.N;
  const float alpha = 1.0f, beta = 0.0f;
  return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
}

bool same(const ProductShape& a, const ProductShape& b) {
  return a.ta == b.ta && a.tb == b.tb && a.M == b.M && a.N == b.N && a.K == b.K;
}

// The thread's planned shapes (a handful per model: the MLP's six, the GPT's dozen); cleared past 64.
Planned& planned(const ProductShape& s) {
  thread_local std::vector<Planned> plans;
  for (Planned& p : plans) {
    if (same(p.shape, s)) return p;
  }
  if (plans.size() >= 64) plans.clear();
  Planned p;
  p.shape = s;
  p.kernel = dispatch(s);
  if (s.tb && p.kernel) {
    p.transposed_b.resize(static_cast<std::size_t>(s.K * s.N));
    // B [N, K] row-major is [K x N] column-major; its transpose [N x K] column-major, leading dimension N.
    // libxsmm's JIT transpose (alone: W2 [200, 27] 0.22 us against libxsmm_otrans's 0.33; W1 [30, 200] the same)
    libxsmm_descriptor_blob blob;
    p.transpose = libxsmm_dispatch_trans(libxsmm_trans_descriptor_init(
        &blob, sizeof(float), static_cast<unsigned>(s.K), static_cast<unsigned>(s.N), static_cast<unsigned>(s.N)));
  }
  plans.push_back(std::move(p));
  return plans.back();
}

// False where libxsmm has no kernel (the caller then takes OpenBLAS)
bool libxsmm_product(const ProductShape& s, const float* A, const float* B, float* C) {
  Planned& p = planned(s);
  if (!p.kernel) return false;
  if (s.tb) {  // B [N, K] row-major is [K x N] column-major; its transpose, [N x K], is B^T row-major [K, N]
    if (p.transpose) {
      const unsigned ldi = static_cast<unsigned>(s.K), ldo = static_cast<unsigned>(s.N);
      p.transpose(B, &ldi, p.transposed_b.data(), &ldo);
    } else {
      libxsmm_otrans(p.transposed_b.data(), B, sizeof(float), s.K, s.N, s.K, s.N);
    }
    B = p.transposed_b.data();
  }
  p.kernel(B, A, C);
  return true;
}
#endif

}  // namespace

std::string libxsmm_target() {
#ifdef BPNINJA_HAVE_LIBXSMM
  target_archid();
  return libxsmm_get_target_arch();
#else
  return "none";
#endif
}

bool libxsmm_avx512() {
#ifdef BPNINJA_HAVE_LIBXSMM
  return target_archid() >= LIBXSMM_X86_AVX512_CORE;
#else
  return false;
#endif
}

int libxsmm_vector_floats() {
#ifdef BPNINJA_HAVE_LIBXSMM
  const int id = target_archid();
  return id >= LIBXSMM_X86_AVX512 ? 16 : id >= LIBXSMM_X86_AVX2 ? 8 : 4;  // AVX512F is all 16 lanes need
#else
  return 0;
#endif
}

namespace {
// The rule of products.h, before asking libxsmm for a kernel
bool libxsmm_rule(const ProductShape& s) {
#ifdef BPNINJA_HAVE_LIBXSMM
  return s.M * s.N * s.K <= kLibxsmmMaxMNK && target_archid() >= LIBXSMM_X86_AVX2;
#else
  (void)s;
  return false;
#endif
}
}  // namespace

ProductLibrary choose_library(const ProductShape& s) {
#ifdef BPNINJA_HAVE_LIBXSMM
  if (libxsmm_rule(s) && planned(s).kernel) return ProductLibrary::kLibxsmm;
#endif
  return ProductLibrary::kOpenBlas;
}

void product_with(ProductLibrary library, const ProductShape& s, const float* A, const float* B, float* C) {
#ifdef BPNINJA_HAVE_LIBXSMM
  if (library == ProductLibrary::kLibxsmm && libxsmm_product(s, A, B, C)) return;
#else
  (void)library;
#endif
  blas_product(s, A, B, C);
}

void product(const ProductShape& s, const float* A, const float* B, float* C) {
  // one lookup of the shape's plan: libxsmm_product itself falls back where there is no kernel
  product_with(libxsmm_rule(s) ? ProductLibrary::kLibxsmm : ProductLibrary::kOpenBlas, s, A, B, C);
}

}  // namespace bpn::kernel
