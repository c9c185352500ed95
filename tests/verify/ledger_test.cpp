#include "verify/ledger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/mlp/check.h"
#include "models/registry.h"
#include "support/names.h"
#include "support/scratch.h"
#include "util/errors.h"

namespace bpn::verify {
namespace {

Environment env() { return {"1.13.0", "AVX2", "float32", "cpu"}; }
const nlohmann::json kConfig = {{"n_hidden", 64}};

CheckReport fake_report(bool h_exact) {
  CheckReport r;
  r.env = env();
  r.config = kConfig;
  ExerciseReport ex{1, "t", {}};
  Row row;
  row.cmp.name = "h";
  row.cmp.same_shape = true;
  row.cmp.allclose = true;
  row.cmp.exact = h_exact;
  row.cmp.maxdiff = h_exact ? 0.0 : 1e-9;
  row.accuracy.judged = row.accuracy.pass = true;
  ex.rows.push_back(row);
  r.exercises.push_back(ex);
  return r;
}

TEST(Ledger, RoundTripsThroughJson) {
  Ledger ledger;
  ledger.record(env(), kConfig, "exercise1", {"h", "logits"});
  const Ledger back = Ledger::from_json(ledger.to_json(), "mem");
  const LedgerEntry* e = back.find(env(), kConfig);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->exact.at("exercise1"), (std::set<std::string>{"h", "logits"}));
  Environment other = env();
  other.cpu_capability = "DEFAULT";
  EXPECT_EQ(back.find(other, kConfig), nullptr);
  EXPECT_EQ(back.find(env(), nlohmann::json{{"n_hidden", 65}}), nullptr);
}

TEST(Ledger, ATensorRecordedExactThatIsNoLongerExactFails) {
  Ledger ledger;
  ledger.record(env(), kConfig, "exercise1", {"h"});
  CheckReport r = fake_report(/*h_exact=*/false);
  apply_expectations(r, &ledger);
  EXPECT_TRUE(r.ledger_found);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.exercises[0].rows[0].note.find("no longer bit-equal"), std::string::npos);
}

TEST(Ledger, WithoutAnEntryExactnessIsNotVerifiedAndSaysSo) {
  CheckReport r = fake_report(/*h_exact=*/false);
  apply_expectations(r, nullptr);
  EXPECT_FALSE(r.ledger_found);
  EXPECT_TRUE(r.pass);
  EXPECT_NE(r.ledger_status.find("EXACTNESS NOT VERIFIED"), std::string::npos);
}

TEST(Ledger, NewlyExactPassesWithANote) {
  Ledger ledger;
  ledger.record(env(), kConfig, "exercise1", {});
  CheckReport r = fake_report(/*h_exact=*/true);
  apply_expectations(r, &ledger);
  EXPECT_TRUE(r.pass);
  EXPECT_NE(r.exercises[0].rows[0].note.find("newly exact"), std::string::npos);
}

TEST(Ledger, LessAccurateThanAutogradFailsEvenWithoutALedger) {
  CheckReport r = fake_report(false);
  r.exercises[0].rows[0].accuracy.pass = false;
  apply_expectations(r, nullptr);
  EXPECT_FALSE(r.pass);
}

TEST(Ledger, MalformedFileIsAnInputError) {
  const auto path = bpn::testing::scratch_path("bad_ledger.json");
  std::ofstream(path) << "{ not json";
  EXPECT_THROW(Ledger::load(path.string()), InputError);
  std::ofstream(path, std::ios::trunc) << R"({"entries": [{"libtorch": 1}]})";
  EXPECT_THROW(Ledger::load(path.string()), InputError);
  std::filesystem::remove(path);
}

TEST(Ledger, MissingFileIsAnEmptyLedger) { EXPECT_TRUE(Ledger::load("/nonexistent/ledger.json").entries.empty()); }

TEST(Ledger, CheckedInLedgerParsesAndValidates) {
  const Ledger ledger = Ledger::load(bpn::testing::bpninja_ledger_path());
  EXPECT_FALSE(ledger.entries.empty()) << "tests/golden/exactness.json has no entries";
  EXPECT_NO_THROW(ledger.validate(models::known_rows_for, "exactness.json"));
}

Ledger valid_ledger() {
  Ledger ledger;
  for (const auto& [exercise, names] : known_rows()) ledger.record(env(), kConfig, exercise, {});
  return ledger;
}

TEST(Ledger, ValidationRejectsUnknownNamesMissingKeysAndDuplicates) {
  Ledger typo = valid_ledger();
  typo.entries[0].exact["exercise1"].insert("hpreact_typo");
  try {
    typo.validate(known_rows(), "l.json");
    FAIL() << "a misspelled name was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hpreact_typo"), std::string::npos) << e.what();
  }
  Ledger missing = valid_ledger();
  missing.entries[0].exact.erase("exercise4");
  EXPECT_THROW(missing.validate(known_rows(), "l.json"), InputError);
  Ledger unknown = valid_ledger();
  unknown.entries[0].exact["exercise9"] = {};
  EXPECT_THROW(unknown.validate(known_rows(), "l.json"), InputError);
  Ledger twice = valid_ledger();
  twice.entries.push_back(twice.entries[0]);
  EXPECT_THROW(twice.validate(known_rows(), "l.json"), InputError);
  EXPECT_NO_THROW(valid_ledger().validate(known_rows(), "l.json"));
}

TEST(Ledger, DiffNamesWhatRecordingWouldAddAndDrop) {
  Ledger ledger;
  ledger.record(env(), kConfig, "exercise1", {"h"});
  const LedgerDiff drop = ledger_diff(fake_report(/*h_exact=*/false), ledger);
  EXPECT_TRUE(drop.drops_anything());
  EXPECT_NE(drop.describe().find("- exercise1 h"), std::string::npos) << drop.describe();
  ledger.entries[0].exact["exercise1"].clear();
  const LedgerDiff add = ledger_diff(fake_report(/*h_exact=*/true), ledger);
  EXPECT_FALSE(add.drops_anything());
  EXPECT_NE(add.describe().find("+ exercise1 h"), std::string::npos) << add.describe();
}

TEST(Ledger, SaveIsAtomicAndLeavesNoTemporaryFile) {
  const auto dir = bpn::testing::scratch_dir("ledger_save");
  Ledger ledger;
  ledger.record(env(), kConfig, "exercise1", {"h"});
  ledger.save((dir / "l.json").string());
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);
  EXPECT_NE(Ledger::load((dir / "l.json").string()).find(env(), kConfig), nullptr);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bpn::verify
