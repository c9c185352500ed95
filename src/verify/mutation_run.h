// Runs one mutant of the catalog (verify/mutants.h) through every check that could see it: `check`
// in float32 and float64, with and without the ledger, `train --verify-every` on one training step in
// both dtypes, and optionally gradcheck (central differences, float64), through hooks its model gives
// (models/model.h). Used by the mutation test and by `bpninja mutants`, which prints the mutation
// table (docs/mutation-testing.md).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>

#include "verify/ledger.h"
#include "verify/mutants.h"
#include "verify/report.h"

namespace bpn::verify {

// A training step with the mutant, as `train --verify-every` judges it.
struct MutantStep {
  bool caught = false;
  std::string evidence;  // "--verify-every ...: " and the failing rows, when caught
};

// What the runner asks of the mutant's model; each may throw (recorded as `threw`, never a catch).
struct MutantHooks {
  std::function<CheckReport(at::ScalarType dtype)> check;  // the model's check with the mutant, not judged
  // One training step with the mutant, verified; nullopt when no step of that dtype runs the function.
  std::function<std::optional<MutantStep>(at::ScalarType dtype)> step;
  std::function<std::optional<bool>()> gradcheck;  // caught by central differences; nullopt: not run
};

struct MutantResult {
  // true = caught by the verdict: a check or step check ran to its end and failed. A run that threw is
  // not a catch (a user sees exit 3, "internal error", and no table): it is recorded in `threw`.
  bool check_ledger_f32 = false, check_ledger_f64 = false;  // check with the ledger's exactness
  bool ledger_found = false;  // the ledger has entries for both checks' configurations (else it sees nothing)
  bool check_f32 = false, check_f64 = false;    // check, accuracy rule only
  bool verify_f32 = false, verify_f64 = false;  // one training step under --verify-every
  std::optional<bool> gradcheck;                // central differences (float64), if asked
  std::string evidence;                         // the first failing row of the strongest check that caught it
  std::string threw;  // where a check threw, and the exception's first line; empty when none did
  bool as_expected(const Expectation& e) const;
  bool caught_anywhere() const;
  // Caught where its class says, or, for an equivalent mutant, caught nowhere (else its reason is stale).
  bool as_expected(const Mutant& m) const {
    return m.equivalent.empty() ? as_expected(m.expect()) : !caught_anywhere();
  }
};

MutantResult run_mutant(const Mutant& m, const MutantHooks& hooks, const Ledger& ledger, bool with_gradcheck = false);

}  // namespace bpn::verify
