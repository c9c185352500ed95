// A check's report, whatever the model: one table of judged rows per exercise, the model's goals
// besides the rows, the ledger's verdict on exactness, and the update rows every training step is
// verified with. A model fills it (models/model.h: check); `bpninja check` judges and prints it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "verify/environment.h"
#include "verify/ledger.h"
#include "verify/verdict.h"

namespace bpn::verify {

struct ExerciseReport {
  int number = 0;
  std::string title;
  std::vector<Row> rows;
  bool pass() const;  // every row passes; no rows is no evidence
};

std::string exercise_key(int number);  // "exercise1": the ledger's and the JSON's key

// A goal of the model's besides the rows (the MLP: the lecture's |loss_fast - loss| <= 1e-6), printed
// above its exercise's table and, where it applies, part of the verdict.
struct Goal {
  int exercise = 0;  // printed with this exercise; judged only when the report has it
  std::string what;  // "loss_fast - loss"
  std::string key;   // its JSON key, "loss_fast_diff"
  double value = 0.0;
  double limit = 0.0;
  bool applies = false;     // judged (else printed with why not)
  std::string not_applied;  // " (the lecture's goal applies to its configuration only)"
};

struct CheckReport {
  Environment env;
  nlohmann::json config;  // the experiment (the ledger's key besides env)
  std::int64_t train_rows = 0, dev_rows = 0, test_rows = 0;
  std::vector<std::int64_t> ix;  // the batch's rows
  double loss = 0.0;             // the check's loss in the run's dtype
  std::vector<ExerciseReport> exercises;
  std::vector<Goal> goals;
  nlohmann::json extra = nlohmann::json::object();  // the model's own JSON fields
  std::string ledger_status;
  bool ledger_found = false;
  bool pass = false;  // every row and goal holds (exactness only where the ledger has an entry)

  // The JSON report; each row names its section of docs/derivations.md when `section_of` (the model's
  // derivation_anchor) knows it.
  using SectionOf = std::function<std::string(const std::string& exercise, const std::string& row)>;
  nlohmann::json to_json(const SectionOf& section_of = {}) const;
  // The rows and goals that fail for a reason other than a recorded-exact tensor no longer exact.
  std::vector<std::string> failures_besides_exactness() const;
};

// Applies the verdict rule and the ledger (nullptr or no matching entry: exactness is not asserted).
void apply_expectations(CheckReport& report, const Ledger* ledger);

// What recording `report` would change in `ledger`: names newly exact and names no longer exact.
struct LedgerDiff {
  std::map<std::string, std::set<std::string>> added, dropped;  // by exercise key
  bool new_entry = false;
  bool drops_anything() const;
  std::string describe() const;  // one line per change, "+ exercise1 h", "- exercise2 logits"
};
LedgerDiff ledger_diff(const CheckReport& report, const Ledger& ledger);

// Records the exactness measured in `report` into `ledger` under the report's key.
void record_exactness(const CheckReport& report, Ledger& ledger);

// The notebook's table, one per exercise, with the goals above their exercise. No verdict line: the
// caller prints one after everything it runs (see cli/check_cmd.cpp).
std::string format_report(const CheckReport& report);

// What the ledger guarded, for rows judged by apply_expectations: "exactness: 26 rows recorded exact,
// all still exact", "exactness: 26 rows recorded exact, 1 no longer exact", "exactness: nothing
// recorded exact for this configuration (accuracy only)", or, without an entry, "exactness NOT
// verified (no ledger entry for this configuration)". `rows`: one exercise's ("... for this exercise");
// without it, all of the report's.
std::string exactness_summary(const CheckReport& report, const std::vector<Row>* rows = nullptr);

// The update rows of a training step, for any model and optimizer: "step:<name>" compares parameter i
// after the update with reference(i, p, grad, dtype), the update recomputed independently (tensor ops,
// or LibTorch's optimizer) from the same parameter p, state and applied gradient (matched by name), in
// the run's dtype, float32 and float64. A parameter whose applied gradient is missing or not of its
// shape was not updated: its row is a FAIL that says so (the gradient's own row says why). Rows are not
// yet judged.
using NamedTensorList = std::vector<std::pair<std::string, at::Tensor>>;
using UpdateReference =
    std::function<at::Tensor(std::size_t index, const at::Tensor& p, const at::Tensor& grad, at::ScalarType dtype)>;
std::vector<Row> update_rows(const NamedTensorList& before, const NamedTensorList& applied,
                             const NamedTensorList& after, const UpdateReference& reference);
// SGD's reference: p - lr * grad in tensor ops (the MLP's and the WaveNet's update)
UpdateReference sgd_reference(double lr);

}  // namespace bpn::verify
