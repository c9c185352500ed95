// The trained weights do not depend on the thread count, on the run, or on an interruption (issue 22):
// every `bpninja train` below is its own child process, as a user runs it, so nothing (ATen's thread
// pool, OpenBLAS's buffers, a cached kernel choice) carries over from one run to the next.
//
// For each model, five runs of the same training and the bytes of their checkpoint.safetensors:
//   threads: --threads 1 against --threads 2 (util/threads.h says why they must agree);
//   rerun:   --threads 1 twice;
//   resume:  half the steps, then --resume to the end, against the uninterrupted run.
// What this does not claim: the same weights on another processor, ATen CPU capability or BLAS kernel
// family (docs/determinism.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli_runner.h"
#include "support/names.h"
#include "support/scratch.h"

namespace bpn {
namespace {

namespace fs = std::filesystem;

struct Training {
  std::string arch;
  int steps;                       // even: the resumed run stops at steps / 2
  std::vector<std::string> model;  // model options (small where the default would be slow)
  std::string libxsmm_target;      // LIBXSMM_TARGET for the runs: the products' choice of another CPU
                                   // (kernel/products.h); empty: this CPU's own
  std::string name() const { return libxsmm_target.empty() ? arch : arch + "_libxsmm_" + libxsmm_target; }
};

std::ostream& operator<<(std::ostream& os, const Training& t) { return os << t.name(); }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Where two checkpoints first differ, for the failure message
std::string first_difference(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return "first differing byte at offset " + std::to_string(i) + " of " + std::to_string(a.size());
  }
  return "identical";
}

class Determinism : public ::testing::TestWithParam<Training> {
 protected:
  // Trains in a child process and returns the bytes of its checkpoint
  std::string train(const std::string& name, std::vector<std::string> extra) {
    const Training& t = GetParam();
    const fs::path out = dir_ / name;
    std::vector<std::string> args = {"train", "--data", bpn::testing::names_path(), "--out", out.string()};
    const bool resume = std::find(extra.begin(), extra.end(), "--resume") != extra.end();
    if (!resume) {
      args.insert(args.end(), {"--arch", t.arch});
      args.insert(args.end(), t.model.begin(), t.model.end());
    }
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = bpn::testing::run_process(args);
    EXPECT_EQ(r.status, 0) << name << ": " << r.out << r.err;
    const std::string bytes = read(out / "checkpoint.safetensors");
    EXPECT_GT(bytes.size(), 1000u) << name << ": no checkpoint";
    return bytes;
  }

  void SetUp() override {
    dir_ = bpn::testing::scratch_dir("determinism_" + GetParam().name());
    if (!GetParam().libxsmm_target.empty()) {
      // AVX2 kernels (hsw) run on any CPU with AVX2 and FMA; the child processes inherit the variable
      if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        GTEST_SKIP() << "no AVX2 and FMA here: libxsmm's hsw kernels cannot run";
      setenv("LIBXSMM_TARGET", GetParam().libxsmm_target.c_str(), 1);
    }
  }
  void TearDown() override {
    if (!GetParam().libxsmm_target.empty()) unsetenv("LIBXSMM_TARGET");
    fs::remove_all(dir_);
  }

  fs::path dir_;
};

TEST_P(Determinism, WeightsAreIdenticalAcrossThreadCountsRerunsAndResume) {
  BPN_REQUIRE_NAMES(d);
  const std::string steps = std::to_string(GetParam().steps), half = std::to_string(GetParam().steps / 2);
  const std::string one = train("one", {"--steps", steps, "--threads", "1"});
  const std::string two = train("two", {"--steps", steps, "--threads", "2"});
  const std::string again = train("again", {"--steps", steps, "--threads", "1"});
  train("resumed", {"--steps", half, "--threads", "1"});
  const std::string resumed =
      train("resumed", {"--steps", steps, "--threads", "1", "--resume", (dir_ / "resumed").string()});
  EXPECT_TRUE(one == two) << "threads: --threads 2 gave other weights than --threads 1 (" << first_difference(one, two)
                          << ")";
  EXPECT_TRUE(one == again) << "rerun: a second run gave other weights (" << first_difference(one, again) << ")";
  EXPECT_TRUE(one == resumed) << "resume: the run resumed at step " << half
                              << " gave other weights than the uninterrupted one (" << first_difference(one, resumed)
                              << ")";
}

// Steps enough that every piece of each step (and the MLP's learning-rate decay) has run on both
// thread counts; the MLP at a width where its products are split by OpenBLAS when it may. The MLP once
// more with the products an AVX2 CPU chooses (libxsmm's hsw kernels, kernel/products.h), whatever this
// CPU has beyond AVX2. (An AVX2 CPU's GPT forms its products with at::matmul, as the WaveNet and the
// recurrent models do here; cli.check_gpt_with_the_products_of_an_avx2_cpu holds its ledger.)
INSTANTIATE_TEST_SUITE_P(Models, Determinism,
                         ::testing::Values(Training{"mlp", 400, {"--decay-step", "300"}, ""},
                                           Training{"mlp", 400, {"--decay-step", "300"}, "hsw"},
                                           Training{"wavenet", 100, {}, ""}, Training{"gpt", 10, {}, ""},
                                           Training{"rnn", 20, {}, ""}, Training{"gru", 20, {}, ""}),
                         [](const auto& info) { return info.param.name(); });

}  // namespace
}  // namespace bpn
