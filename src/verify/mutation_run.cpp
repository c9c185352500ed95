#include "verify/mutation_run.h"

#include <exception>
#include <functional>

namespace bpn::verify {

namespace {

std::string first_failure(const CheckReport& r) {
  for (const auto& ex : r.exercises) {
    for (const auto& row : ex.rows) {
      if (!row.pass) return "exercise " + std::to_string(ex.number) + " " + row.cmp.name + ": " + row.note;
    }
  }
  return r.pass ? "" : "a goal of the notebook's configuration";
}

struct CheckOutcome {
  bool caught_with_ledger = false, caught_without = false;
  bool ledger_found = false;  // the ledger has an entry for the check's configuration
  std::string evidence, threw;
};

// The exception's first line (LibTorch appends a stack trace)
std::string first_line(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

void note_throw(std::string& threw, const std::string& where, const std::exception& e) {
  if (threw.empty()) threw = where + ": " + first_line(e);
}

// Runs one check (a report for the given dtype) and judges it with and without the ledger; a throw
// is not a catch (it is recorded apart).
CheckOutcome judge_check(const std::function<CheckReport(at::ScalarType)>& run, const Ledger& ledger,
                         at::ScalarType dtype) {
  CheckOutcome out;
  try {
    CheckReport r = run(dtype);
    apply_expectations(r, nullptr);
    out.caught_without = !r.pass;
    if (!r.pass) out.evidence = first_failure(r);
    apply_expectations(r, &ledger);
    out.caught_with_ledger = !r.pass;
    out.ledger_found = r.ledger_found;
    if (!r.pass && out.evidence.empty()) out.evidence = first_failure(r);
  } catch (const std::exception& e) {
    note_throw(out.threw, std::string("check ") + (dtype == at::kDouble ? "float64" : "float32"), e);
  }
  return out;
}

// One training step, judged: caught when it ran to its verdict and failed.
bool step_caught(const MutantHooks& hooks, at::ScalarType dtype, std::string& evidence, std::string& threw) {
  try {
    const std::optional<MutantStep> step = hooks.step(dtype);
    if (!step) return false;
    if (step->caught && evidence.empty()) evidence = step->evidence;
    return step->caught;
  } catch (const std::exception& e) {
    note_throw(threw, std::string("--verify-every ") + (dtype == at::kDouble ? "float64" : "float32"), e);
    return false;
  }
}
}  // namespace

bool MutantResult::as_expected(const Expectation& e) const {
  return (!e.check_ledger || (check_ledger_f32 && check_ledger_f64)) && (!e.check_f32 || check_f32) &&
         (!e.check_f64 || check_f64) && (!e.verify_f32 || verify_f32) && (!e.verify_f64 || verify_f64);
}

bool MutantResult::caught_anywhere() const {
  return check_ledger_f32 || check_ledger_f64 || check_f32 || check_f64 || verify_f32 || verify_f64 ||
         gradcheck.value_or(false);
}

MutantResult run_mutant(const Mutant& m, const MutantHooks& hooks, const Ledger& ledger, bool with_gradcheck) {
  MutantResult r;
  const CheckOutcome c64 = judge_check(hooks.check, ledger, at::kDouble);
  const CheckOutcome c32 = judge_check(hooks.check, ledger, at::kFloat);
  r.check_ledger_f32 = c32.caught_with_ledger;
  r.check_ledger_f64 = c64.caught_with_ledger;
  r.ledger_found = c32.ledger_found && c64.ledger_found;
  r.check_f32 = c32.caught_without;
  r.check_f64 = c64.caught_without;
  r.evidence = !c64.evidence.empty() ? c64.evidence : c32.evidence;
  r.threw = !c64.threw.empty() ? c64.threw : c32.threw;
  if (m.training_step) {
    r.verify_f64 = step_caught(hooks, at::kDouble, r.evidence, r.threw);
    r.verify_f32 = step_caught(hooks, at::kFloat, r.evidence, r.threw);
  }
  if (with_gradcheck) {
    try {
      r.gradcheck = hooks.gradcheck();
    } catch (const std::exception& e) {
      r.gradcheck = false;
      note_throw(r.threw, "gradcheck", e);
    }
  }
  return r;
}

}  // namespace bpn::verify
