// Google Benchmark: bpn::gradcheck's speed (issue 24). Ratios within one run:
//   build/release/bench/bench_gradcheck --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true
// BM_GradcheckSoftplus100k, BM_GradcheckAttention64x32: default options (auto picks fast mode);
// BM_GradcheckAttentionSlow / BM_GradcheckAttentionFast: the attention at [32, 16], slow vs fast
// mode (the slow one is also the figure compared with tools/gradcheck_attention.py).
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <bpninja/gradcheck.h>

#include "attention.h"  // examples/attention_function

namespace {

const bpn::TensorFn softplus = [](const bpn::Tensors& in) { return at::log1p(at::exp(in[0])); };
const bpn::BackwardFn softplus_backward = [](const bpn::Tensors& g, const bpn::Tensors& in) {
  return g[0] * at::sigmoid(in[0]);
};
const bpn::TensorFn attention = [](const bpn::Tensors& in) { return Attention::apply(in[0], in[1], in[2]); };

bpn::Tensors attention_inputs(std::int64_t n, std::int64_t d) {
  at::manual_seed(0);
  return {(0.5 * at::randn({n, d}, at::kDouble)).requires_grad_(),
          (0.5 * at::randn({n, d}, at::kDouble)).requires_grad_(),
          (0.5 * at::randn({n, d}, at::kDouble)).requires_grad_()};
}

void run(benchmark::State& state, const bpn::TensorFn& fn, const bpn::Tensors& in, const bpn::GradcheckOptions& opt,
         const bpn::BackwardFn* backward = nullptr) {
  at::set_num_threads(1);
  for (auto _ : state) {
    const bpn::GradcheckReport report = backward ? bpn::gradcheck(fn, *backward, in, opt) : bpn::gradcheck(fn, in, opt);
    if (!report) state.SkipWithError("the check failed");
    std::int64_t compared = report.compared;
    benchmark::DoNotOptimize(compared);
  }
}

void BM_GradcheckSoftplus100k(benchmark::State& state) {
  at::manual_seed(0);
  run(state, softplus, {at::randn({100000}, at::kDouble).requires_grad_()}, {}, &softplus_backward);
}

void BM_GradcheckAttention64x32(benchmark::State& state) { run(state, attention, attention_inputs(64, 32), {}); }

void BM_GradcheckAttentionSlow(benchmark::State& state) {
  bpn::GradcheckOptions opt;
  opt.fast_mode = bpn::FastMode::kOff;
  run(state, attention, attention_inputs(32, 16), opt);
}

void BM_GradcheckAttentionFast(benchmark::State& state) {
  bpn::GradcheckOptions opt;
  opt.fast_mode = bpn::FastMode::kOn;
  run(state, attention, attention_inputs(32, 16), opt);
}

}  // namespace

BENCHMARK(BM_GradcheckSoftplus100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GradcheckAttention64x32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GradcheckAttentionSlow)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_GradcheckAttentionFast)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
