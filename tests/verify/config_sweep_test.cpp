// No false FAIL: `check`'s verdict over random valid configurations of the notebook's data (batch
// 2..4096 and n_hidden 1..1024, log-uniform; n_embd 1..16; random seeds; float32 and float64; both
// variance conventions are rows of Exercise 3). The configurations come from a fixed seed, so CI is
// reproducible (BPNINJA_SWEEP_SEED picks others); BPNINJA_SWEEP_CONFIGS sets how many (200 by default; the sanitized
// suite runs fewer).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "support/names.h"
#include "verify/check.h"

namespace bpn::verify {
namespace {

TEST(ConfigSweep, NoFalseFailOverRandomValidConfigurations) {
  BPN_REQUIRE_NAMES(d);
  const char* env = std::getenv("BPNINJA_SWEEP_CONFIGS");
#ifdef BPNINJA_SWEEP_DEFAULT
  const int count = env ? std::atoi(env) : BPNINJA_SWEEP_DEFAULT;
#else
  const int count = env ? std::atoi(env) : 200;
#endif
  const char* seed_env = std::getenv("BPNINJA_SWEEP_SEED");  // another seed: fresh configurations
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261128ULL);
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
}

}  // namespace
}  // namespace bpn::verify
