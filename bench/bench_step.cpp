// One full training step (n_hidden 200, batch 32, the notebook's data and initialisation):
//   BM_StepManual    fused forward + hand-derived backward + SGD update, no autograd
//   BM_StepAutograd  the same forward, loss.backward(), the same update
//   BM_GPTStepManual / BM_GPTStepAutograd  makemore's Transformer: manual backward + AdamW by hand vs
//                    loss.backward() + torch::optim::AdamW (4 layers, 4 heads, 64 channels, batch 32)
//   BM_WaveNetStepManual / BM_WaveNetStepAutograd  the same pair for the WaveNet of makemore part 5
//                    (the lecture's config: batch 32, n_hidden 128, block 8)
// Both draw their batch from g like the trainer. Report the ratio of their times.
// `--benchmark_filter=WaveNet` runs only the WaveNet pair (the --arch of the benchmarks).
//   build/release/bench/bench_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "data/dataset.h"
#include "train/gpt_trainer.h"
#include "train/trainer.h"
#include "train/wavenet_trainer.h"
#include "util/malloc_tuning.h"

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

BENCHMARK(BM_StepKernel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepAutograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WaveNetStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WaveNetStepAutograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTStepManual)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GPTStepAutograd)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (!std::filesystem::exists(std::string(BPNINJA_SOURCE_DIR) + "/data/names.txt") && !std::getenv("BPNINJA_NAMES")) {
    std::cerr << "bench_step: data/names.txt is absent: run scripts/setup.sh (or set BPNINJA_NAMES)\n";
    return 2;
  }
  bpn::util::keep_freed_memory_for_reuse();  // as `bpninja train` does
  // One intra-op thread, as `bpninja train` defaults to; BPNINJA_BENCH_THREADS overrides it.
  const char* threads = std::getenv("BPNINJA_BENCH_THREADS");
  at::set_num_threads(threads ? std::atoi(threads) : 1);
  benchmark::AddCustomContext("intra_op_threads", std::to_string(at::get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
