// The CLI in-process: exit statuses, one-line errors, JSON output, nothing half-written.
#include "cli/cli.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_runner.h"
#include "support/names.h"
#include "verify/environment.h"

namespace bpn::cli {
namespace {

namespace fs = std::filesystem;

using Result = bpn::testing::CliResult;
using bpn::testing::run_cli;

void expect_one_line_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, kExitBadInput) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bpninja_cli_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Cli, BatchSizeOneIsRejectedWithTheReason) {
  expect_one_line_error(run_cli({"check", "--batch-size", "1"}), "n-1");
}

TEST(Cli, MissingDataNamesThePathAndTheFix) {
  const auto r = run_cli({"check", "--data", "/nonexistent/names.txt"});
  expect_one_line_error(r, "/nonexistent/names.txt");
  EXPECT_NE(r.err.find("scripts/setup.sh"), std::string::npos);
}

TEST(Cli, BadOptionValuesAreRejected) {
  expect_one_line_error(run_cli({"check", "--n-hidden", "0"}), "--n-hidden");
  expect_one_line_error(run_cli({"check", "--n-hidden", "abc"}), "--n-hidden");
  expect_one_line_error(run_cli({"check", "--n-hidden", "99999999999999999999"}), "--n-hidden");
  expect_one_line_error(run_cli({"check", "--batch-size", "-4"}), "--batch-size");
  expect_one_line_error(run_cli({"check", "--exercise", "4"}), "--exercise");
  expect_one_line_error(run_cli({"check", "--dtype", "float16"}), "--dtype");
  expect_one_line_error(run_cli({"check", "--no-such-option"}), "no-such-option");
  expect_one_line_error(run_cli({"frobnicate"}), "frobnicate");
}

TEST(Cli, UnwritableJsonFailsBeforeAnyWork) {
  expect_one_line_error(run_cli({"check", "--json", "/nonexistent-dir/report.json"}), "/nonexistent-dir");
}

TEST(Cli, HelpExitsZero) { EXPECT_EQ(run_cli({"check", "--help"}).status, kExitOk); }

TEST(Cli, CheckPassesAndWritesTheJsonReport) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = scratch("json");
  const auto r = run_cli({"check", "--data", bpn::testing::names_path(), "--json", (dir / "r.json").string()});
  EXPECT_EQ(r.status, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("Exercise 1"), std::string::npos);
  EXPECT_NE(r.out.find("Exercise 3"), std::string::npos);
  std::ifstream in(dir / "r.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_TRUE(j["pass"].get<bool>());
  EXPECT_EQ(j["exercise1"].size(), 26u);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
}

TEST(Cli, OneExerciseGivesOneTable) {
  BPN_REQUIRE_NAMES(d);
  const auto r = run_cli({"check", "--data", bpn::testing::names_path(), "--exercise", "2"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(r.out.find("Exercise 1"), std::string::npos);
  EXPECT_NE(r.out.find("Exercise 2"), std::string::npos);
}

TEST(Cli, AGradientRegressionAgainstTheLedgerExitsOne) {
  BPN_REQUIRE_NAMES(d);
  // A ledger that claims the closed-form dlogits is bit-exact: it is not (different rounding), so
  // the check must report a regression.
  const fs::path dir = scratch("ledger");
  const auto env = verify::current_environment(at::kFloat, at::kCPU);
  const nlohmann::json ledger = {{"entries",
                                  {{{"libtorch", env.libtorch},
                                    {"cpu_capability", env.cpu_capability},
                                    {"dtype", env.dtype},
                                    {"device", env.device},
                                    {"config",
                                     {{"vocab_size", 27},
                                      {"block_size", 3},
                                      {"n_embd", 10},
                                      {"n_hidden", 64},
                                      {"batch_size", 32},
                                      {"seed", 2147483647ULL},
                                      {"train_rows", 182625}}},
                                    {"exact", {{"exercise2", {"logits"}}}}}}}};
  std::ofstream(dir / "ledger.json") << ledger.dump();
  const auto r = run_cli(
      {"check", "--data", bpn::testing::names_path(), "--exercise", "2", "--ledger", (dir / "ledger.json").string()});
  EXPECT_EQ(r.status, kExitCheckFailed) << r.out;
  EXPECT_NE(r.out.find("no longer bit-equal"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace bpn::cli
