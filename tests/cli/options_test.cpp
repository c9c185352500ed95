// Every numeric option is range-checked: negative, zero, non-integer, overflowing values and unknown
// options exit 2 with one line naming the option.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "support/cli_runner.h"
#include "support/scratch.h"

namespace bpn::cli {
namespace {

struct Case {
  std::string command, option;
  std::vector<std::string> bad_values;
};

int run_args(const std::vector<std::string>& args, std::string& err) {
  const auto r = bpn::testing::run_cli(args);
  err = r.err;
  return r.status;
}

TEST(Options, EveryNumericOptionIsRangeChecked) {
  const std::vector<std::string> not_integers = {"1.5", "abc", "", "99999999999999999999999"};
  const std::vector<Case> cases = {
      {"check", "--n-hidden", {"-1", "0", "5000"}},
      {"check", "--batch-size", {"-1", "0", "1"}},
      {"check", "--seed", {"-1", "18446744073709551616", "1e3", "+5"}},
      {"gradcheck", "--n-hidden", {"-1", "0"}},
      {"gradcheck", "--batch-size", {"-1", "0", "1"}},
      {"train", "--steps", {"-1"}},
      {"train", "--n-hidden", {"-1", "0"}},
      {"train", "--batch-size", {"-1", "0", "1"}},
      {"train", "--decay-step", {"-1"}},
      {"train", "--verify-every", {"-1"}},
      {"train", "--checkpoint-every", {"-1", "0"}},
      {"train", "--threads", {"-1", "0", "100000"}},
      {"train", "--seed", {"-1", "18446744073709551616"}},
      {"gradcheck", "--seed", {"-1", "18446744073709551616"}},
      {"sample", "-n", {"-1", "0", "1000000"}},
      {"sample", "--seed", {"-1", "18446744073709551616"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> values = c.bad_values;
    values.insert(values.end(), not_integers.begin(), not_integers.end());
    for (const auto& v : values) {
      // A value that slipped through validation then fails fast on the missing input (and this test
      // fails on the message), instead of running a whole job.
      std::vector<std::string> args{c.command, c.option, v};
      if (c.command == "sample") {
        args.insert(args.end(), {"--model", "/nonexistent"});
      } else {
        args.insert(args.end(), {"--data", "/nonexistent"});
      }
      std::string err;
      const int status = run_args(args, err);
      EXPECT_EQ(status, kExitBadInput) << c.command << " " << c.option << " '" << v << "': " << err;
      EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
      // -n is --count's short name; messages name one or the other.
      const bool named =
          err.find(c.option) != std::string::npos || (c.option == "-n" && err.find("--count") != std::string::npos);
      EXPECT_TRUE(named) << c.command << " " << c.option << " '" << v << "': " << err;
    }
  }
}

TEST(Options, LearningRatesMustBePositiveAndFinite) {
  for (const std::string v : {"0", "-0.1", "nan", "inf", "abc"}) {
    std::string err;
    EXPECT_EQ(run_args({"train", "--data", "/nonexistent", "--lr", v}, err), kExitBadInput) << v;
    EXPECT_NE(err.find("--lr"), std::string::npos) << err;
    EXPECT_EQ(run_args({"train", "--data", "/nonexistent", "--lr-decayed", v}, err), kExitBadInput) << v;
    EXPECT_NE(err.find("--lr-decayed"), std::string::npos) << err;
  }
}

TEST(Options, UnknownOptionsAndCommands) {
  std::string err;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"check", "--bogus"}, {"train", "--n_hidden", "3"}, {"sample", "--model", "x", "--n", "3"}, {"bogus"}, {}}) {
    EXPECT_EQ(run_args(args, err), kExitBadInput) << (args.empty() ? "(no command)" : args[0]);
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(Options, UnwritableOutputPathsFailBeforeAnyWork) {
  namespace fs = std::filesystem;
  const fs::path dir = bpn::testing::scratch_dir("unwritable");
  std::ofstream(dir / "a_file") << "x";
  std::string err;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_args({"check", "--json", "/nonexistent-dir/r.json"}, err), kExitBadInput);
  EXPECT_EQ(run_args({"check", "--json", dir.string()}, err), kExitBadInput);  // a directory
  EXPECT_EQ(run_args({"check", "--record-ledger", "--ledger", "/nonexistent-dir/l.json"}, err), kExitBadInput);
  EXPECT_EQ(run_args({"gradcheck", "--json", "/nonexistent-dir/g.json"}, err), kExitBadInput);
  EXPECT_EQ(run_args({"train", "--out", (dir / "a_file").string()}, err), kExitBadInput);  // a file, not a dir
  EXPECT_NE(err.find("--out"), std::string::npos) << err;
  EXPECT_EQ(run_args({"train", "--json", "/nonexistent-dir/t.json"}, err), kExitBadInput);
  // None of these loaded the data or trained: they fail in well under a second together.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

}  // namespace
}  // namespace bpn::cli
