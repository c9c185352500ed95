// One full training step (n_hidden 200, batch 32, the notebook's data and initialisation):
//   BM_StepManual    fused forward + hand-derived backward + SGD update, no autograd
//   BM_StepAutograd  the same forward, loss.backward(), the same update
//   BM_StepKernel    the same step on raw memory (kernel/mlp_kernel.h): what `train` runs
//   BM_Product{Blas,Libxsmm,Blis,Chosen}/N, BM_GPTProduct{Blas,Libxsmm,Blis}/N  the MLP kernel's and the
//                    GPT's six products through each library (kernel/products.h chooses)
//   BM_GPTStepManual / BM_GPTStepAutograd  makemore's Transformer: manual backward + AdamW by hand vs
//                    loss.backward() + torch::optim::AdamW (4 layers, 4 heads, 64 channels, batch 32)
//   BM_GPTStepLlmc   karpathy/llm.c's train_gpt2.c (its CPU reference, built with its own flags from
//                    BPNINJA_LLMC_DIR) at the same config: forward + zero_grad + backward + AdamW, random
//                    init and a fixed batch of random targets in [0, V) (llm.c has no ignore index; its
//                    lm_head is tied to wte); left out, with a message, when the folder is absent
//   BM_RNNStepManual / BM_RNNStepAutograd, BM_GRUStepManual / BM_GRUStepAutograd  makemore's RNN and GRU:
//                    backpropagation through time + AdamW by hand vs loss.backward() + torch::optim::AdamW
//                    (makemore's defaults: n_embd 64, n_embd2 64, batch 32, 16 positions)
//   BM_WaveNetStepManual / BM_WaveNetStepAutograd  the same pair for the WaveNet of makemore part 5
//                    (the lecture's config: batch 32, n_hidden 128, block 8)
// Each pair draws its batches from g like the trainer. Report the ratio of their times.
//   BM_EvaluateKernel / BM_EvaluateOps  what `train` does after the loop: calibrate BatchNorm over the
//                    training split, then the train, dev and test losses; raw memory (kernel/mlp_eval.h)
//                    vs the tensor-op reference (train::calibrate_batchnorm, train::split_loss)
// `--benchmark_filter=WaveNet` runs only the WaveNet pair (the --arch of the benchmarks).
//   build/release/bench/bench_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <vector>

#include "data/dataset.h"
#include "data/sequences.h"
#include "kernel/mlp_kernel.h"
#include "kernel/products.h"
#include "models/gpt/trainer.h"
#include "models/mlp/trainer.h"
#include "models/rnn/trainer.h"
#include "models/wavenet/trainer.h"
#include "util/malloc_tuning.h"
#include "util/threads.h"
#ifdef BPNINJA_HAVE_LLMC
#include "llmc_step.h"
#endif
#ifdef BPNINJA_HAVE_BLIS
#include <blis.h>
#include <dlfcn.h>
#endif

namespace {

std::string names_path() {
  const char* env = std::getenv("BPNINJA_NAMES");
  return env ? env : std::string(BPNINJA_SOURCE_DIR) + "/data/names.txt";
}

const bpn::data::Dataset& dataset() {
  static const bpn::data::Dataset d = bpn::data::load_dataset(names_path(), 3);
  return d;
}

const bpn::data::Dataset& wavenet_dataset() {
  static const bpn::data::Dataset d = bpn::data::load_dataset(names_path(), 8);
  return d;
}

void BM_WaveNetStepManual(benchmark::State& st) {
  const bpn::train::WaveNetTrainConfig cfg;
  auto state = bpn::train::init_wavenet(cfg, wavenet_dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::wavenet_manual_step(state, cfg, wavenet_dataset().train));
  st.SetItemsProcessed(st.iterations());
}

void BM_WaveNetStepAutograd(benchmark::State& st) {
  const bpn::train::WaveNetTrainConfig cfg;
  auto state = bpn::train::init_wavenet(cfg, wavenet_dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::wavenet_autograd_step(state, cfg, wavenet_dataset().train));
  st.SetItemsProcessed(st.iterations());
}

void BM_StepManual(benchmark::State& st) {
  const bpn::train::TrainConfig cfg;  // the lecture's: n_hidden 200, batch 32, lr 0.1
  auto state = bpn::train::init_state(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::manual_step(state, cfg, dataset().train));
  st.SetItemsProcessed(st.iterations());
}

void BM_StepKernel(benchmark::State& st) {
  const bpn::train::TrainConfig cfg;
  auto state = bpn::train::init_state(cfg, dataset());
  bpn::kernel::MlpStepKernel k(state.params, cfg.batch_size);
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::kernel_step(state, cfg, dataset().train, k));
  st.SetItemsProcessed(st.iterations());
}

// After-training evaluation of the init's parameters (the cost does not depend on the values).
template <typename Calibrate, typename SplitLoss>
void run_evaluation(benchmark::State& st, Calibrate calibrate, SplitLoss split_loss) {
  const auto state = bpn::train::init_state(bpn::train::TrainConfig{}, dataset());
  const bpn::data::Dataset& d = dataset();
  for (auto _ : st) {
    const bpn::train::BatchNormStats bn = calibrate(state.params, d.train);
    benchmark::DoNotOptimize(split_loss(state.params, bn, d.train) + split_loss(state.params, bn, d.dev) +
                             split_loss(state.params, bn, d.test));
  }
}
void BM_EvaluateKernel(benchmark::State& st) {
  run_evaluation(st, bpn::train::kernel_calibrate_batchnorm, bpn::train::kernel_split_loss);
}
void BM_EvaluateOps(benchmark::State& st) {
  run_evaluation(st, bpn::train::calibrate_batchnorm, bpn::train::split_loss);
}

void BM_StepAutograd(benchmark::State& st) {
  const bpn::train::TrainConfig cfg;
  auto state = bpn::train::init_state(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::autograd_step(state, cfg, dataset().train));
  st.SetItemsProcessed(st.iterations());
}

void BM_GPTStepManual(benchmark::State& st) {
  const bpn::train::GPTTrainConfig cfg;  // makemore's defaults: 4 layers, 4 heads, 64 channels, batch 32
  auto state = bpn::train::init_gpt(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::gpt_manual_step(state, cfg));
  st.SetItemsProcessed(st.iterations());
}

void BM_GPTStepAutograd(benchmark::State& st) {
  const bpn::train::GPTTrainConfig cfg;
  auto twin = bpn::train::make_gpt_twin(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::gpt_twin_step(*twin, cfg));
  st.SetItemsProcessed(st.iterations());
}

#ifdef BPNINJA_HAVE_LLMC
void BM_GPTStepLlmc(benchmark::State& st) {
  const bpn::train::GPTTrainConfig cfg;
  const auto& m = cfg.model;
  const int V = static_cast<int>(dataset().vocab.size()), T = static_cast<int>(bpn::data::sequence_length(dataset()));
  llmc_set_threads(bpn::util::training_threads());
  if (llmc_init(static_cast<int>(cfg.batch_size), T, V, static_cast<int>(m.n_layer), static_cast<int>(m.n_head),
                static_cast<int>(m.n_embd), m.seed) != 0) {
    st.SkipWithError("llm.c: out of memory");
    return;
  }
  for (auto _ : st) benchmark::DoNotOptimize(llmc_step());
  st.SetItemsProcessed(st.iterations());
  llmc_free();
}
#endif

template <bpn::models::Cell cell>
void BM_RecurrentStepManual(benchmark::State& st) {
  bpn::train::RecurrentTrainConfig cfg;  // makemore's defaults
  cfg.model.cell = cell;
  auto state = bpn::train::init_recurrent(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::recurrent_manual_step(state, cfg));
  st.SetItemsProcessed(st.iterations());
}

template <bpn::models::Cell cell>
void BM_RecurrentStepAutograd(benchmark::State& st) {
  bpn::train::RecurrentTrainConfig cfg;
  cfg.model.cell = cell;
  auto twin = bpn::train::make_recurrent_twin(cfg, dataset());
  for (auto _ : st) benchmark::DoNotOptimize(bpn::train::recurrent_twin_step(*twin, cfg));
  st.SetItemsProcessed(st.iterations());
}

void BM_RNNStepManual(benchmark::State& st) { BM_RecurrentStepManual<bpn::models::Cell::kRnn>(st); }
void BM_RNNStepAutograd(benchmark::State& st) { BM_RecurrentStepAutograd<bpn::models::Cell::kRnn>(st); }
void BM_GRUStepManual(benchmark::State& st) { BM_RecurrentStepManual<bpn::models::Cell::kGru>(st); }
void BM_GRUStepAutograd(benchmark::State& st) { BM_RecurrentStepAutograd<bpn::models::Cell::kGru>(st); }

// The kernel's six products at the lecture's shapes (n 32, 30 inputs, 200 hidden, 27 classes), each
// through OpenBLAS (blas_gemm), libxsmm's JIT kernels (kernel::product_with; A @ B^T as A @ (B^T) with
// B transposed first), BLIS where it was found at configure time (libblis-dev, one thread), and the
// library kernel/products.h chooses on this CPU (BM_ProductChosen, what the kernel runs):
//   build/release/bench/bench_step --benchmark_filter=Product --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
using Product = bpn::kernel::NamedProduct;  // a name and its shape (ta, tb, M, N, K)
const auto kProducts = bpn::kernel::step_products(32, 30, 200, 27);

// The GPT's products at makemore's config (B*T 512 rows, 64 channels): forward x @ W, backward
// dx = dout @ W^T (W^T formed once) and dW = x^T @ dout, for c_attn, c_fc and mlp.c_proj
constexpr Product kGPTProducts[] = {
    {"qkv = ln_1 @ c_attn.W", {false, false, 512, 192, 64}},
    {"fc = ln_2 @ c_fc.W", {false, false, 512, 256, 64}},
    {"mlp_out = gelu @ mlp.c_proj.W", {false, false, 512, 64, 256}},
    {"dln_1 = dqkv @ c_attn.W^T", {false, false, 512, 64, 192}},
    {"dW c_attn = ln_1^T @ dqkv", {true, false, 64, 192, 512}},
    {"dW mlp.c_proj = gelu^T @ dmlp_out", {true, false, 256, 64, 512}},
};

enum class Library { kOpenBlas, kLibxsmm, kBlis, kChosen };

#ifdef BPNINJA_HAVE_BLIS
// BLIS is opened with RTLD_LOCAL, never linked: libblis.so.4 also exports the BLAS interface (sgemm_, ...),
// and linked ahead of libblas.so.3 it took the place of OpenBLAS for LibTorch and blas_gemm in this
// process (BM_ProductBlas and BM_StepAutograd ran on BLIS's generic kernels, 10x slower). One thread.
decltype(&bli_sgemm) blis_sgemm() {
  static const auto sgemm = [] {
    void* blis = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL);
    if (blis == nullptr) return static_cast<decltype(&bli_sgemm)>(nullptr);
    if (auto* threads =
            reinterpret_cast<decltype(&bli_thread_set_num_threads)>(dlsym(blis, "bli_thread_set_num_threads")))
      threads(1);
    return reinterpret_cast<decltype(&bli_sgemm)>(dlsym(blis, "bli_sgemm"));
  }();
  return sgemm;
}
#endif

void run_product(benchmark::State& st, Library lib, const Product* table = kProducts.data()) {
  const Product& p = table[st.range(0)];
  const bpn::kernel::ProductShape& shape = p.shape;
  if (lib == Library::kLibxsmm && bpn::kernel::libxsmm_target() == "none") {
    st.SkipWithError("built without libxsmm (libxsmm-dev)");
    return;
  }
  std::vector<float> A(static_cast<std::size_t>(shape.M * shape.K), 0.5f),
      B(static_cast<std::size_t>(shape.K * shape.N), 0.25f), C(static_cast<std::size_t>(shape.M * shape.N), 0.0f);
  std::function<void()> product;
  switch (lib) {
    case Library::kOpenBlas:
      product = [&] {
        bpn::kernel::blas_gemm(shape.ta, shape.tb, shape.M, shape.N, shape.K, A.data(), B.data(), C.data());
      };
      break;
    case Library::kLibxsmm:
      product = [&] {
        bpn::kernel::product_with(bpn::kernel::ProductLibrary::kLibxsmm, shape, A.data(), B.data(), C.data());
      };
      break;
    case Library::kChosen:
      product = [&] { bpn::kernel::product(shape, A.data(), B.data(), C.data()); };
      break;
    case Library::kBlis:
#ifdef BPNINJA_HAVE_BLIS
      if (blis_sgemm() == nullptr) {
        st.SkipWithError("libblis.so.4 could not be opened");
        return;
      }
      product = [&] {
        float alpha = 1.0f, beta = 0.0f;
        const auto& [ta, tb, M, N, K] = shape;
        // row-major operands as BLIS's general strides: op(A) is [M, K], B^T read through B's strides
        blis_sgemm()(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, N, K, &alpha, A.data(), ta ? 1 : K, ta ? M : 1, B.data(),
                     tb ? 1 : N, tb ? K : 1, &beta, C.data(), N, 1);
      };
#else
      st.SkipWithError("built without BLIS (libblis-dev)");
      return;
#endif
      break;
  }
  for (auto _ : st) {
    product();
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  const std::string name = std::string(p.name) + " [" + std::to_string(shape.M) + "x" + std::to_string(shape.K) + "x" +
                           std::to_string(shape.N) + "]";  // M x K x N
  st.SetLabel(lib == Library::kChosen ? name + " on " + bpn::kernel::library_name(bpn::kernel::choose_library(shape))
                                      : name);
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(shape.M * shape.N * shape.K),
                         benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_ProductBlas(benchmark::State& st) { run_product(st, Library::kOpenBlas); }
void BM_ProductLibxsmm(benchmark::State& st) { run_product(st, Library::kLibxsmm); }
void BM_ProductBlis(benchmark::State& st) { run_product(st, Library::kBlis); }
void BM_ProductChosen(benchmark::State& st) { run_product(st, Library::kChosen); }
void BM_GPTProductBlas(benchmark::State& st) { run_product(st, Library::kOpenBlas, kGPTProducts); }
void BM_GPTProductLibxsmm(benchmark::State& st) { run_product(st, Library::kLibxsmm, kGPTProducts); }
void BM_GPTProductBlis(benchmark::State& st) { run_product(st, Library::kBlis, kGPTProducts); }

BENCHMARK(BM_ProductBlas)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ProductLibxsmm)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ProductBlis)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ProductChosen)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTProductBlas)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTProductLibxsmm)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTProductBlis)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepKernel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepAutograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EvaluateKernel)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateOps)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WaveNetStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WaveNetStepAutograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTStepAutograd)->Unit(benchmark::kMicrosecond);
#ifdef BPNINJA_HAVE_LLMC
BENCHMARK(BM_GPTStepLlmc)->Unit(benchmark::kMicrosecond);
#endif
BENCHMARK(BM_RNNStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RNNStepAutograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GRUStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GRUStepAutograd)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (!std::filesystem::exists(std::string(BPNINJA_SOURCE_DIR) + "/data/names.txt") && !std::getenv("BPNINJA_NAMES")) {
    std::cerr << "bench_step: data/names.txt is absent: run scripts/setup.sh (or set BPNINJA_NAMES)\n";
    return 2;
  }
  bpn::util::keep_freed_memory_for_reuse();  // as `bpninja train` does
  // One thread, as `bpninja train` defaults to; BPNINJA_BENCH_THREADS=N is `--threads N`
  // (util/threads.h: run_both's pieces on N threads, every ATen op and BLAS call on one).
  const char* threads = std::getenv("BPNINJA_BENCH_THREADS");
  bpn::util::set_training_threads(threads ? std::atoi(threads) : 1);
  benchmark::AddCustomContext("training_threads", std::to_string(bpn::util::training_threads()));
#ifdef BPNINJA_HAVE_LLMC
  benchmark::AddCustomContext("llm.c", "train_gpt2.c built from BPNINJA_LLMC_DIR (BM_GPTStepLlmc)");
#else
  std::cerr
      << "bench_step: llm.c was not found at configure time (-DBPNINJA_LLMC_DIR=...): BM_GPTStepLlmc is left out\n";
#endif
  benchmark::AddCustomContext("libxsmm", bpn::kernel::libxsmm_target());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
