// The notebook's experiment end to end: Exercises 1-3 on the notebook's batch, judged against the
// goals and the checked-in exactness ledger.
#include "models/mlp/check.h"

#include <gtest/gtest.h>

#include <iostream>

#include "support/names.h"

namespace bpn::verify {
namespace {

const CheckReport& notebook_report(at::ScalarType dtype = at::kFloat) {
  static std::map<at::ScalarType, CheckReport> cache;
  auto it = cache.find(dtype);
  if (it == cache.end()) {
    CheckConfig cfg;
    cfg.dtype = dtype;
    CheckReport r = run_check(*bpn::testing::notebook_dataset(), cfg);
    const Ledger ledger = Ledger::load(bpn::testing::bpninja_ledger_path());
    apply_expectations(r, &ledger);
    it = cache.emplace(dtype, std::move(r)).first;
  }
  return it->second;
}

const ExerciseReport& exercise(const CheckReport& r, int number) {
  for (const auto& ex : r.exercises) {
    if (ex.number == number) return ex;
  }
  throw std::runtime_error("exercise missing");
}

}  // namespace
}  // namespace bpn::verify

namespace at {
inline void PrintTo(ScalarType t, std::ostream* os) { *os << bpn::model::dtype_name(t); }
}  // namespace at

namespace bpn::verify {
namespace {

class NotebookCheck : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(NotebookCheck, EveryRowMeetsItsGoalAndTheLedger) {
  BPN_REQUIRE_NAMES(d);
  const CheckReport& r = notebook_report(GetParam());
  std::cout << "[ ledger ] " << r.ledger_status << "\n";
  for (const auto& ex : r.exercises) {
    for (const auto& row : ex.rows) {
      EXPECT_TRUE(row.pass) << "exercise " << ex.number << ": " << describe(row.cmp) << " -- " << row.note;
    }
  }
  EXPECT_TRUE(r.pass);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NotebookCheck, ::testing::Values(at::kFloat, at::kDouble),
                         [](const auto& info) { return model::dtype_name(info.param); });

TEST(NotebookCheck, Exercise1CoversAllTwentySixTensors) {
  BPN_REQUIRE_NAMES(d);
  const auto& ex = exercise(notebook_report(), 1);
  ASSERT_EQ(ex.rows.size(), 26u);
  for (const auto& row : ex.rows) EXPECT_TRUE(row.cmp.allclose) << describe(row.cmp);
}

// The strict ledger: the notebook's configuration must have an entry for the environment the suite
// runs in (ctest also runs `check --require-ledger` under each CPU dispatch). A new LibTorch or CPU
// capability fails here until its entry is recorded and reviewed.
TEST_P(NotebookCheck, TheLedgerHasAnEntryForThisEnvironment) {
  BPN_REQUIRE_NAMES(d);
  const CheckReport& r = notebook_report(GetParam());
  EXPECT_TRUE(r.ledger_found) << "no ledger entry for " << r.env.key()
                              << ": record one with bpninja check --record-ledger --dtype " << r.env.dtype;
}

TEST(NotebookCheck, Exercise4ChecksTheForwardLoopsTheAppliedGradientsAndTheUpdate) {
  BPN_REQUIRE_NAMES(d);
  const auto& ex = exercise(notebook_report(), 4);
  std::set<std::string> names;
  for (const auto& row : ex.rows) names.insert(row.cmp.name);
  EXPECT_EQ(names, known_rows().at("exercise4"));
}

// The lecture's goal `key` of the report (it applies in the notebook's configuration).
double goal_value(const CheckReport& r, const std::string& key) {
  for (const Goal& g : r.goals) {
    if (g.key == key) {
      EXPECT_TRUE(g.applies) << key;
      return g.value;
    }
  }
  ADD_FAILURE() << "the report has no goal " << key;
  return INFINITY;
}

TEST(NotebookCheck, Exercise2MeetsTheLecturesGoals) {
  BPN_REQUIRE_NAMES(d);
  const CheckReport& r = notebook_report();
  EXPECT_LE(goal_value(r, "loss_fast_diff"), 1e-6);
  const auto& ex = exercise(r, 2);
  ASSERT_EQ(ex.rows[0].cmp.name, "logits");
  EXPECT_TRUE(ex.rows[0].cmp.allclose);
  EXPECT_LE(ex.rows[0].cmp.maxdiff, 1e-8);
  ASSERT_EQ(ex.rows[1].cmp.name, "logits@ops");
  EXPECT_LE(ex.rows[1].cmp.maxdiff, 1e-8);
  EXPECT_TRUE(ex.rows[2].cmp.allclose) << describe(ex.rows[2].cmp);  // vs autograd of cross_entropy
}

TEST(NotebookCheck, Exercise3MeetsTheLecturesGoalsForBothVarianceConventions) {
  BPN_REQUIRE_NAMES(d);
  const CheckReport& r = notebook_report();
  EXPECT_LE(goal_value(r, "hpreact_fast_maxdiff"), 1e-6);
  std::set<std::string> names;
  for (const auto& row : exercise(r, 3).rows) {
    names.insert(row.cmp.name);
    EXPECT_TRUE(row.cmp.allclose) << describe(row.cmp);
    EXPECT_LE(row.cmp.maxdiff, 1e-8) << describe(row.cmp);
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"hprebn", "hprebn@ops", "hprebn@unbiased", "hprebn@biased", "hprebn@batch_norm"}));
}

TEST(NotebookCheck, JsonReportHasTheDocumentedKeys) {
  BPN_REQUIRE_NAMES(d);
  const nlohmann::json j = notebook_report().to_json();
  for (const char* key : {"libtorch", "splits", "ix", "loss", "exercise1", "exercise2", "exercise3", "exercise4",
                          "loss_fast_diff", "hpreact_fast_maxdiff", "pass"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["splits"], (nlohmann::json{{"train", 182625}, {"dev", 22655}, {"test", 22866}}));
  EXPECT_EQ(j["ix"].size(), 32u);
  EXPECT_EQ(j["exercise1"].size(), 26u);
  for (const char* key : {"name", "shape", "exact", "allclose", "maxdiff", "accuracy"})
    EXPECT_TRUE(j["exercise1"][0].contains(key));
  // The loss is the float32 value itself, not a rounded print.
  EXPECT_EQ(static_cast<float>(j["loss"].get<double>()), j["loss"].get<double>());
}

TEST(NotebookCheck, SameReportTwiceInOneProcess) {
  BPN_REQUIRE_NAMES(d);
  CheckConfig cfg;
  const auto a = run_check(*d, cfg).to_json(), b = run_check(*d, cfg).to_json();
  EXPECT_EQ(a.dump(), b.dump());
}

}  // namespace
}  // namespace bpn::verify
