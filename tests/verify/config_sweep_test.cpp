// No false FAIL: `check`'s verdict over random valid configurations of the notebook's data (batch
// 2..4096 and n_hidden 1..1024, log-uniform; n_embd 1..16; random seeds; float32 and float64; both
// variance conventions are rows of Exercise 3). The configurations come from a fixed seed, so CI is
// reproducible (BPNINJA_SWEEP_SEED picks others); BPNINJA_SWEEP_CONFIGS sets how many (200 by default; the sanitized
// suite runs fewer). The WaveNet and the GPT get a quarter of that count each, with random widths,
// depths, heads, batches and seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "models/gpt/check.h"
#include "models/mlp/check.h"
#include "models/rnn/check.h"
#include "models/wavenet/check.h"
#include "support/names.h"

namespace bpn::verify {
namespace {

// BPNINJA_SWEEP_CONFIGS, or the default; a count that does not parse to at least one configuration
// would run nothing and pass, so it fails the test.
int sweep_count() {
  const char* env = std::getenv("BPNINJA_SWEEP_CONFIGS");
#ifdef BPNINJA_SWEEP_DEFAULT
  const int default_count = BPNINJA_SWEEP_DEFAULT;
#else
  const int default_count = 200;
#endif
  char* end = nullptr;
  const long parsed = env ? std::strtol(env, &end, 10) : default_count;
  if (env && (end == env || *end != '\0')) {
    ADD_FAILURE() << "BPNINJA_SWEEP_CONFIGS='" << env << "' is not a whole number";
    return 0;
  }
  if (parsed < 1) ADD_FAILURE() << "BPNINJA_SWEEP_CONFIGS must be at least 1 (got " << parsed << ")";
  return static_cast<int>(std::clamp<long>(parsed, 0, 1000000));
}

std::uint64_t sweep_seed() {
  const char* seed_env = std::getenv("BPNINJA_SWEEP_SEED");  // another seed: fresh configurations
  return seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261128ULL;
}

TEST(ConfigSweep, NoFalseFailOverRandomValidConfigurations) {
  BPN_REQUIRE_NAMES(d);
  const int count = sweep_count();
  ASSERT_GE(count, 1);
  std::mt19937_64 rng(sweep_seed());
  auto log_uniform = [&](double lo, double hi) {
    return static_cast<std::int64_t>(
        std::floor(std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi + 1))(rng))));
  };
  int fails = 0;
  for (int i = 0; i < count; ++i) {
    CheckConfig cfg;
    cfg.batch_size = std::clamp<std::int64_t>(log_uniform(2, 4096), 2, 4096);
    cfg.n_hidden = std::clamp<std::int64_t>(log_uniform(1, 1024), 1, 1024);
    cfg.n_embd = std::uniform_int_distribution<std::int64_t>(1, 16)(rng);
    cfg.seed = rng() >> 20;
    cfg.dtype = (i % 2 == 0) ? at::kFloat : at::kDouble;
    CheckReport r = run_check(*d, cfg);
    apply_expectations(r, nullptr);
    if (!r.pass) {
      ++fails;
      ADD_FAILURE() << "false FAIL: " << model::dtype_name(cfg.dtype) << " batch " << cfg.batch_size << " n_hidden "
                    << cfg.n_hidden << " n_embd " << cfg.n_embd << " seed " << cfg.seed << ": "
                    << r.failures_besides_exactness().front();
    }
  }
  std::cout << "[ sweep ] " << count << " configurations, " << fails << " FAIL\n";
  RecordProperty("configurations", count);
}

// The same for the WaveNet and the GPT (issue 23): random widths, depths, heads, batches, seeds and
// both dtypes, judged by the verdict without the ledger. A quarter of the MLP's count each (their checks
// are heavier), at least one.
TEST(ConfigSweep, NoFalseFailForTheWaveNetAndTheGPT) {
  BPN_REQUIRE_NAMES(d);
  const int mlp_count = sweep_count();
  ASSERT_GE(mlp_count, 1);
  const int count = std::max(1, mlp_count / 4);
  const data::Dataset data8 = data::load_dataset(bpn::testing::names_path(), 8);
  std::mt19937_64 rng(sweep_seed() + 1);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int fails = 0;
  for (int i = 0; i < count; ++i) {
    WaveNetCheckConfig w;
    w.model.n_embd = uniform(1, 32);
    w.model.n_hidden = uniform(1, 160);
    w.model.seed = rng() >> 20;
    w.batch_size = uniform(2, 64);
    w.dtype = (i % 2 == 0) ? at::kFloat : at::kDouble;
    CheckReport rw = run_wavenet_check(data8, w);
    apply_expectations(rw, nullptr);
    if (!rw.pass) {
      ++fails;
      ADD_FAILURE() << "false FAIL (wavenet): " << model::dtype_name(w.dtype) << " n_embd " << w.model.n_embd
                    << " n_hidden " << w.model.n_hidden << " batch " << w.batch_size << " seed " << w.model.seed << ": "
                    << rw.failures_besides_exactness().front();
    }
    GPTCheckConfig g;
    g.model.n_layer = uniform(1, 3);
    g.model.n_head = uniform(1, 4);
    g.model.n_embd = g.model.n_head * uniform((2 + g.model.n_head) / g.model.n_head, 8);  // >= 3 (models/gpt.cpp)
    g.model.seed = rng() >> 20;
    g.batch_size = uniform(1, 12);
    g.dtype = (i % 2 == 0) ? at::kDouble : at::kFloat;
    CheckReport rg = run_gpt_check(*d, g);
    apply_expectations(rg, nullptr);
    if (!rg.pass) {
      ++fails;
      ADD_FAILURE() << "false FAIL (gpt): " << model::dtype_name(g.dtype) << " n_layer " << g.model.n_layer
                    << " n_head " << g.model.n_head << " n_embd " << g.model.n_embd << " batch " << g.batch_size
                    << " seed " << g.model.seed << ": " << rg.failures_besides_exactness().front();
    }
  }
  std::cout << "[ sweep ] " << count << " WaveNet and " << count << " GPT configurations, " << fails << " FAIL\n";
  RecordProperty("configurations", 2 * count);
}

// The same for makemore's RNN and GRU (issue 26): random widths, batches, seeds, both cells and dtypes.
TEST(ConfigSweep, NoFalseFailForTheRNNAndTheGRU) {
  BPN_REQUIRE_NAMES(d);
  const int count = std::max(1, sweep_count() / 4);
  std::mt19937_64 rng(sweep_seed() + 2);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int fails = 0;
  for (int i = 0; i < 2 * count; ++i) {
    RecurrentCheckConfig c;
    c.model.cell = i % 2 == 0 ? models::Cell::kRnn : models::Cell::kGru;
    c.model.n_embd = uniform(1, 48);
    c.model.n_embd2 = uniform(1, 48);
    c.model.seed = rng() >> 20;
    c.batch_size = uniform(1, 24);
    c.dtype = (i / 2) % 2 == 0 ? at::kFloat : at::kDouble;
    CheckReport r = run_recurrent_check(*d, c);
    apply_expectations(r, nullptr);
    if (!r.pass) {
      ++fails;
      ADD_FAILURE() << "false FAIL (" << c.model.arch() << "): " << model::dtype_name(c.dtype) << " n_embd "
                    << c.model.n_embd << " n_embd2 " << c.model.n_embd2 << " batch " << c.batch_size << " seed "
                    << c.model.seed << ": " << r.failures_besides_exactness().front();
    }
  }
  std::cout << "[ sweep ] " << count << " RNN and " << count << " GRU configurations, " << fails << " FAIL\n";
  RecordProperty("configurations", 2 * count);
}

}  // namespace
}  // namespace bpn::verify
