// Runs one mutant of the catalog (verify/mutants.h) through every check that could see it: `check`
// in float32 and float64, with and without the ledger, `train --verify-every` on one training step in
// both dtypes, and optionally gradcheck (central differences, float64). Used by the mutation test and
// by `bpninja mutants`, which prints the README's mutation table.
#pragma once

#include <optional>
#include <string>

#include "data/dataset.h"
#include "verify/ledger.h"
#include "verify/mutants.h"

namespace bpn::train {

struct MutantResult {
  // true = caught by the verdict: a check or step check ran to its end and failed. A run that threw is
  // not a catch (a user sees exit 3, "internal error", and no table): it is recorded in `threw`.
  bool check_ledger_f32 = false, check_ledger_f64 = false;  // check with the ledger's exactness
  bool check_f32 = false, check_f64 = false;                // check, accuracy rule only
  bool verify_f32 = false, verify_f64 = false;              // one training step under --verify-every
  std::optional<bool> gradcheck;                            // central differences (float64), if asked
  std::string evidence;  // the first failing row of the strongest check that caught it
  std::string threw;     // where a check threw, and the exception's first line; empty when none did
  bool as_expected(const verify::Expectation& e) const;
  bool caught_anywhere() const;
  // Caught where its class says, or, for an equivalent mutant, caught nowhere (else its reason is stale).
  bool as_expected(const verify::Mutant& m) const {
    return m.equivalent.empty() ? as_expected(m.expect()) : !caught_anywhere();
  }
};

// `data` is the notebook's data set (block 3), `wavenet_data` the same words with block 8 (for the
// layer mutants, arch "wavenet"); `ledger` the checked-in ledger.
MutantResult run_mutant(const verify::Mutant& m, const data::Dataset& data, const data::Dataset& wavenet_data,
                        const verify::Ledger& ledger, bool with_gradcheck = false);

}  // namespace bpn::train
