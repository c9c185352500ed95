// The CLI in-process: exit statuses, one-line errors, JSON output, nothing half-written.
#include "cli/cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "models/mlp/check.h"
#include "support/cli_runner.h"
#include "support/names.h"
#include "support/scratch.h"
#include "train/safetensors.h"
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

fs::path cli_scratch(const std::string& name) { return bpn::testing::scratch_dir("cli_" + name); }

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
  expect_one_line_error(run_cli({"check", "--exercise", "5"}), "--exercise");
  expect_one_line_error(run_cli({"check", "--dtype", "float16"}), "--dtype");
  expect_one_line_error(run_cli({"check", "--no-such-option"}), "no-such-option");
  expect_one_line_error(run_cli({"frobnicate"}), "frobnicate");
}

TEST(Cli, UnwritableJsonFailsBeforeAnyWork) {
  expect_one_line_error(run_cli({"check", "--json", "/nonexistent-dir/report.json"}), "/nonexistent-dir");
}

// The sequence models' sizes come from the data: the vocabulary, and (GPT, RNN, GRU) the longest word.
// Trained on a word list other than names.txt (the names of letters a-m only, 2 to 9 long: 14 characters,
// the longest word 9), each checkpoint must say the sizes its tensors have, so that sample reads it and
// --resume continues it, and the run's --json report must say them too (the MLP's report gave no sizes),
// without the lecture's losses as a reference (the MLP printed them for any data). The MLP's graph titles
// its V from the data (it said 27). (The checkpoints and reports recorded the defaults: vocab_size 27, and
// block_size 16 for the GPT, RNN and GRU; the checkpoints could not be read back.)
TEST(Cli, CheckpointsOfAnotherWordListAreSampledAndResumed) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("other_words");
  const fs::path words = dir / "a_to_m.txt";
  {
    std::ifstream in(bpn::testing::names_path());
    std::ofstream out(words);
    std::string w;
    while (std::getline(in, w)) {
      if (w.size() >= 2 && w.size() <= 9 && w.find_first_not_of("abcdefghijklm") == std::string::npos) out << w << '\n';
    }
  }
  for (const std::string arch : {"mlp", "wavenet", "gpt", "rnn", "gru"}) {
    const std::string out = (dir / arch).string();
    const std::string report = (dir / (arch + ".json")).string();
    std::vector<std::string> train = {"train", "--arch", arch, "--data", words.string(), "--steps",
                                      "4",     "--out",  out,  "--json", report};
    if (arch == "gpt") train.insert(train.end(), {"--n-layer", "1", "--n-embd", "16"});
    const Result trained = run_cli(train);
    ASSERT_EQ(trained.status, kExitOk) << arch << ": " << trained.err;
    // The run's report says the same sizes: 13 letters and '.', contexts of 3 (the MLP's), 8 (the
    // WaveNet's) or the longest word + 1
    const nlohmann::json config = nlohmann::json::parse(std::ifstream(report)).at("config");
    EXPECT_EQ(config.at("vocab_size").get<int>(), 14) << arch;
    EXPECT_EQ(config.at("block_size").get<int>(), arch == "mlp" ? 3 : arch == "wavenet" ? 8 : 10) << arch;
    // the lecture's losses are no reference for another alphabet
    EXPECT_EQ(trained.out.find("the lecture"), std::string::npos) << arch << ": " << trained.out;
    const Result sampled = run_cli({"sample", "--model", out, "-n", "3"});
    EXPECT_EQ(sampled.status, kExitOk) << arch << ": " << sampled.err;
    EXPECT_EQ(std::count(sampled.out.begin(), sampled.out.end(), '\n'), 3) << arch << ": " << sampled.out;
    EXPECT_EQ(sampled.out.find_first_not_of("abcdefghijklm\n"), std::string::npos) << arch << ": " << sampled.out;
    const Result resumed = run_cli({"train", "--data", words.string(), "--steps", "6", "--resume", out, "--out", out});
    EXPECT_EQ(resumed.status, kExitOk) << arch << ": " << resumed.err;
    EXPECT_NE(resumed.out.find("resuming from step 4"), std::string::npos) << arch << ": " << resumed.out;
  }
  const std::string graph = (dir / "mlp.dot").string();
  ASSERT_EQ(run_cli({"graph", "--arch", "mlp", "--data", words.string(), "--out", graph}).status, kExitOk);
  std::ostringstream dot;
  dot << std::ifstream(graph).rdbuf();
  EXPECT_NE(dot.str().find("V = 14)"), std::string::npos) << "the MLP graph's title";
}

// --resume compared the vocabulary and the split's size only: a word list with one word reversed (the same
// letters, lengths and split sizes, other words) resumed as if it were the same data. Checkpoints now
// record the words' fingerprint, and such a resume is rejected with one line; the same list resumes.
TEST(Cli, AResumeOnOtherWordsOfTheSameShapeIsRejected) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("other_words_same_shape");
  const fs::path same = dir / "same.txt", reversed = dir / "reversed.txt";
  {
    std::ifstream in(bpn::testing::names_path());
    std::ofstream a(same), b(reversed);
    std::string w;
    for (int k = 0; k < 600 && std::getline(in, w); ++k) {
      a << w << '\n';
      if (k == 0) w = std::string(w.rbegin(), w.rend());  // "emma" -> "amme"
      b << w << '\n';
    }
  }
  for (const std::string arch : {"mlp", "wavenet", "gpt", "rnn", "gru"}) {
    const std::string out = (dir / arch).string();
    std::vector<std::string> train = {"train", "--arch", arch, "--data", same.string(), "--steps", "4", "--out", out};
    if (arch == "gpt") train.insert(train.end(), {"--n-layer", "1", "--n-embd", "16"});
    const Result trained = run_cli(train);
    ASSERT_EQ(trained.status, kExitOk) << arch << ": " << trained.err;
    expect_one_line_error(
        run_cli({"train", "--data", reversed.string(), "--steps", "6", "--resume", out, "--out", out}), "other words");
    const Result resumed = run_cli({"train", "--data", same.string(), "--steps", "6", "--resume", out, "--out", out});
    EXPECT_EQ(resumed.status, kExitOk) << arch << ": " << resumed.err;
    // A checkpoint written before the fingerprint (the field taken out) resumes on the check it had: the
    // vocabulary and the split's size, so other words of the same shape pass, and another shape does not.
    const fs::path file = fs::path(out) / "checkpoint.safetensors";
    std::ostringstream bytes;
    bytes << std::ifstream(file, std::ios::binary).rdbuf();
    train::SafeTensors st = train::parse_safetensors(bytes.str(), file.string());
    ASSERT_EQ(st.metadata.erase("data_fingerprint"), 1u) << arch;
    st.metadata.erase("checksum");  // serialize_safetensors writes it afresh
    std::ofstream(file, std::ios::binary | std::ios::trunc) << train::serialize_safetensors(st);
    expect_one_line_error(
        run_cli({"train", "--data", bpn::testing::names_sample_path(), "--steps", "8", "--resume", out}),
        "vocabulary or split differs");
    const Result old = run_cli({"train", "--data", reversed.string(), "--steps", "8", "--resume", out, "--out", out});
    EXPECT_EQ(old.status, kExitOk) << arch << ": " << old.err;
  }
}

// A train run rejected after --out was made leaves no directory it made, however deep: one whose data is
// missing (found when the data is read), and one resuming a checkpoint of other data (found after the
// data is read). A directory that was there before stays, empty or not. (Rejected runs left their
// --out directory behind, empty.) And a --resume directory that does not exist is named as such.
TEST(Cli, ARejectedTrainRunLeavesNoDirectoryItMade) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("rejected_out");
  const fs::path words = dir / "words.txt", other = dir / "other.txt", before = dir / "there_before";
  {
    std::ifstream in(bpn::testing::names_path());
    std::ofstream a(words), b(other);
    std::string w;
    for (int k = 0; k < 400 && std::getline(in, w); ++k) (k < 200 ? a : b) << w << '\n';
  }
  fs::create_directories(before);
  for (const std::string arch : {"mlp", "wavenet", "gpt", "rnn", "gru"}) {
    const fs::path made = dir / arch;
    const std::string out = (made / "deeper" / "out").string() + "/";
    expect_one_line_error(run_cli({"train", "--arch", arch, "--data", (dir / "missing.txt").string(), "--out", out}),
                          "missing.txt");
    EXPECT_FALSE(fs::exists(made)) << arch << ": the rejected run left " << made;
    fs::remove_all(made);  // the next case on its own
    const std::string checkpoint = (dir / (arch + "_checkpoint")).string();
    std::vector<std::string> train = {"train",   "--arch", arch,    "--data",  words.string(),
                                      "--steps", "2",      "--out", checkpoint};
    if (arch == "gpt") train.insert(train.end(), {"--n-layer", "1", "--n-embd", "16"});
    ASSERT_EQ(run_cli(train).status, kExitOk) << arch;
    expect_one_line_error(
        run_cli({"train", "--data", other.string(), "--steps", "4", "--resume", checkpoint, "--out", out}),
        "other data");
    EXPECT_FALSE(fs::exists(made)) << arch << ": the rejected resume left " << made;
    for (const fs::path& kept : {before, before / "new"}) {
      expect_one_line_error(
          run_cli({"train", "--arch", arch, "--data", (dir / "missing.txt").string(), "--out", kept.string()}),
          "missing.txt");
    }
    EXPECT_TRUE(fs::is_directory(before)) << arch << ": the empty directory that was there before is gone";
    EXPECT_FALSE(fs::exists(before / "new")) << arch;
    // "a/../b" makes a, then b: both are removed
    expect_one_line_error(run_cli({"train", "--arch", arch, "--data", (dir / "missing.txt").string(), "--out",
                                   (made / "a" / ".." / "b").string()}),
                          "missing.txt");
    EXPECT_FALSE(fs::exists(made)) << arch << ": the rejected run left " << made << " (--out " << arch << "/a/../b)";
  }
  expect_one_line_error(run_cli({"train", "--arch", "gru", "--resume", (dir / "no_such_run").string()}),
                        "no_such_run: no such directory");
}

// The lecture's losses are printed beside a run's own for names.txt only: not for every 8th name (the
// same alphabet, another split), which printed them.
TEST(Cli, TheLecturesLossesArePrintedForNamesTxtOnly) {
  BPN_REQUIRE_NAMES(d);
  const Result names = run_cli({"train", "--data", bpn::testing::names_path(), "--steps", "10"});
  ASSERT_EQ(names.status, kExitOk) << names.err;
  EXPECT_NE(names.out.find("(the lecture: train 2.0705, val 2.1099)"), std::string::npos) << names.out;
  const Result sample = run_cli({"train", "--data", bpn::testing::names_sample_path(), "--steps", "10"});
  ASSERT_EQ(sample.status, kExitOk) << sample.err;
  EXPECT_EQ(sample.out.find("the lecture"), std::string::npos) << sample.out;
}

TEST(Cli, HelpExitsZero) { EXPECT_EQ(run_cli({"check", "--help"}).status, kExitOk); }

TEST(Cli, CheckPassesAndWritesTheJsonReport) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("json");
  const auto r = run_cli({"check", "--data", bpn::testing::names_path(), "--json", (dir / "r.json").string()});
  EXPECT_EQ(r.status, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("Exercise 1"), std::string::npos);
  EXPECT_NE(r.out.find("Exercise 3"), std::string::npos);
  std::ifstream in(dir / "r.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_TRUE(j["pass"].get<bool>());
  EXPECT_EQ(j["exercise1"].size(), 26u);
  EXPECT_TRUE(j["notebook_configuration"].get<bool>()) << "names.txt at the lecture's sizes";
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
}

// The lecture's absolute goals belong to its data: a word list of the same 27 characters but another
// split (every 8th name: all 26 letters, 4,005 names) is not the notebook's configuration (it counted).
TEST(Cli, TheLecturesGoalsApplyOnlyToItsOwnData) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("notebook_data");
  const auto r = run_cli({"check", "--data", bpn::testing::names_sample_path(), "--json", (dir / "r.json").string()});
  EXPECT_EQ(r.status, kExitOk) << r.out << r.err;
  const auto j = nlohmann::json::parse(std::ifstream(dir / "r.json"));
  EXPECT_EQ(j["config"]["vocab_size"].get<int>(), 27);
  EXPECT_FALSE(j["notebook_configuration"].get<bool>());
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
  const fs::path dir = cli_scratch("ledger");
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
                                    {"exact",
                                     {{"exercise1", nlohmann::json::array()},
                                      {"exercise2", {"logits"}},
                                      {"exercise3", nlohmann::json::array()},
                                      {"exercise4", nlohmann::json::array()}}}}}}};
  std::ofstream(dir / "ledger.json") << ledger.dump();
  const auto r = run_cli(
      {"check", "--data", bpn::testing::names_path(), "--exercise", "2", "--ledger", (dir / "ledger.json").string()});
  EXPECT_EQ(r.status, kExitCheckFailed) << r.out;
  EXPECT_NE(r.out.find("no longer bit-equal"), std::string::npos) << r.out;
}

// The verdict line says what the ledger guarded: the count of recorded-exact rows (the MLP, the WaveNet
// and the GPT each have some), or that nothing is recorded exact (Exercise 2 alone), never "verified"
// over nothing.
TEST(Cli, TheVerdictLineSaysWhatTheLedgerGuarded) {
  BPN_REQUIRE_NAMES(d);
  const auto mlp = run_cli({"check", "--data", bpn::testing::names_path()});
  ASSERT_EQ(mlp.status, kExitOk) << mlp.out << mlp.err;
  const std::string last = mlp.out.substr(mlp.out.rfind("PASS"));
  const std::string prefix = "PASS: every expectation holds; exactness: ";
  ASSERT_EQ(last.rfind(prefix, 0), 0u) << last;
  EXPECT_GT(std::atoi(last.c_str() + prefix.size()), 0) << last;  // at least one row recorded exact
  EXPECT_NE(last.find(" rows recorded exact, all still exact"), std::string::npos) << last;
  for (const char* arch : {"wavenet", "gpt"}) {
    const auto r = run_cli({"check", "--arch", arch, "--data", bpn::testing::names_path()});
    ASSERT_EQ(r.status, kExitOk) << r.out << r.err;
    const std::string line = r.out.substr(r.out.rfind("PASS"));
    ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
    EXPECT_GT(std::atoi(line.c_str() + prefix.size()), 0) << arch << ": " << line;
  }
  const auto ex2 = run_cli({"check", "--data", bpn::testing::names_path(), "--exercise", "2"});
  ASSERT_EQ(ex2.status, kExitOk) << ex2.out << ex2.err;
  EXPECT_NE(ex2.out.find("PASS: every expectation holds; exactness: nothing recorded exact for this "
                         "configuration (accuracy only)"),
            std::string::npos)
      << ex2.out;
}

TEST(Cli, WithoutALedgerEntryCheckSaysExactnessWasNotVerified) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("noentry");
  const auto r = run_cli({"check", "--data", bpn::testing::names_path(), "--ledger", (dir / "none.json").string()});
  EXPECT_EQ(r.status, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("EXACTNESS NOT VERIFIED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exactness NOT verified (no ledger entry"), std::string::npos) << r.out;
  const auto strict = run_cli(
      {"check", "--data", bpn::testing::names_path(), "--ledger", (dir / "none.json").string(), "--require-ledger"});
  EXPECT_EQ(strict.status, kExitCheckFailed) << strict.out;
  EXPECT_NE(strict.out.find("--record-ledger"), std::string::npos) << strict.out;
  // The verdict is the last line.
  EXPECT_EQ(strict.out.rfind("FAIL:"), strict.out.rfind("\n", strict.out.size() - 2) + 1) << strict.out;
}

TEST(Cli, RecordLedgerShowsTheDiffAndRefusesToDropAnExactTensor) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("record");
  const std::string ledger = (dir / "l.json").string();
  const std::vector<std::string> base = {"check", "--data", bpn::testing::names_path(), "--ledger", ledger};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  const auto first = with({"--record-ledger"});
  ASSERT_EQ(first.status, kExitOk) << first.out << first.err;
  EXPECT_NE(first.out.find("new ledger entry"), std::string::npos) << first.out;
  EXPECT_EQ(with({"--require-ledger"}).status, kExitOk);
  // Pretend a closed form was once exact: recording now would drop it.
  nlohmann::json j = nlohmann::json::parse(std::ifstream(ledger));
  j["entries"][0]["exact"]["exercise2"] = {"logits"};
  std::ofstream(ledger, std::ios::trunc) << j.dump();
  const auto refused = with({"--record-ledger"});
  EXPECT_EQ(refused.status, kExitCheckFailed) << refused.out;
  EXPECT_NE(refused.out.find("- exercise2 logits"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--accept-regression"), std::string::npos) << refused.out;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(ledger))["entries"][0]["exact"]["exercise2"].size(), 1u)
      << "a refused recording changed the ledger";
  const auto accepted = with({"--record-ledger", "--accept-regression"});
  EXPECT_EQ(accepted.status, kExitOk) << accepted.out;
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(ledger))["entries"][0]["exact"]["exercise2"].empty());
}

TEST(Cli, AnInvalidLedgerIsAnInputErrorNamingTheEntry) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = cli_scratch("invalid");
  const std::string ledger = (dir / "l.json").string();
  ASSERT_EQ(run_cli({"check", "--data", bpn::testing::names_path(), "--ledger", ledger, "--record-ledger"}).status,
            kExitOk);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(ledger));
  j["entries"][0]["exact"]["exercise1"].push_back("hpreact_typo");
  std::ofstream(ledger, std::ios::trunc) << j.dump();
  const auto r = run_cli({"check", "--data", bpn::testing::names_path(), "--ledger", ledger});
  EXPECT_EQ(r.status, kExitBadInput);
  EXPECT_NE(r.err.find("hpreact_typo"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("entry 0"), std::string::npos) << r.err;
}

TEST(Cli, FailuresBesidesExactnessListARowThatFailsItsAccuracyRule) {
  // A row that fails its accuracy rule is reported by failures_besides_exactness, which
  // --record-ledger consults before writing anything (this test does not run --record-ledger).
  verify::CheckReport r;
  verify::ExerciseReport ex{1, "t", {}};
  verify::Row row;
  row.cmp.name = "h";
  row.cmp.same_shape = true;
  row.accuracy.judged = true;
  row.accuracy.pass = false;
  ex.rows.push_back(row);
  r.exercises.push_back(ex);
  EXPECT_EQ(r.failures_besides_exactness().size(), 1u);
}

}  // namespace
}  // namespace bpn::cli
