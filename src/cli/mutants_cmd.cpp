// bpninja mutants: the mutation catalog run through every check; prints the mutation table of
// docs/mutation-testing.md.
#include <cstdio>
#include <map>
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "models/registry.h"
#include "util/atomic_file.h"
#include "verify/mutants.h"
#include "verify/mutation_run.h"
#include "verify/report.h"

#ifndef BPNINJA_DEFAULT_LEDGER
#define BPNINJA_DEFAULT_LEDGER "tests/golden/exactness.json"
#endif

namespace bpn::cli {

namespace {
struct MutantsArgs {
  std::string data = "data/names.txt";
  std::string ledger = BPNINJA_DEFAULT_LEDGER;
  std::string json;
  bool gradcheck = false;
};

const char* mark(bool caught, bool expected) {
  return caught ? (expected ? "**caught**" : "caught") : (expected ? "MISSED" : "·");
}

int run_mutants_command(const MutantsArgs& a, std::ostream& out) {
  if (!a.json.empty()) util::check_writable(a.json, "--json");
  std::map<std::int64_t, data::Dataset> data;  // by the models' block sizes, each loaded once
  for (const models::Model* m : models::all()) {
    if (!data.count(m->block_size())) data.emplace(m->block_size(), data::load_dataset(a.data, m->block_size()));
  }
  verify::Ledger ledger = verify::Ledger::load(a.ledger);
  ledger.validate(models::known_rows_for, a.ledger);
  out << "| # | function | mutant | class | check f32 + ledger | check f32 | check f64 | verify-every f32 | "
         "verify-every f64 |"
      << (a.gradcheck ? " gradcheck |" : "") << " threw |\n|---|---|---|---|---|---|---|---|---|"
      << (a.gradcheck ? "---|" : "") << "---|\n";
  int index = 0, as_expected = 0, by_verdict = 0, thrown = 0, equivalent = 0, without_ledger = 0;
  nlohmann::json j = nlohmann::json::array();
  std::string narrowed;
  for (const verify::Mutant& m : models::mutant_catalog()) {
    ++index;
    const models::Model& model = models::named(m.arch);
    const verify::MutantResult r =
        verify::run_mutant(m, model.mutant_hooks(m, data.at(model.block_size())), ledger, a.gradcheck);
    const verify::Expectation e = m.expect();
    // A throw is never a catch, and a mutant that made any check throw is not as expected
    const bool ok = r.as_expected(m) && r.threw.empty();
    as_expected += ok ? 1 : 0;
    by_verdict += ok && m.equivalent.empty() ? 1 : 0;
    thrown += r.threw.empty() ? 0 : 1;
    equivalent += m.equivalent.empty() ? 0 : 1;
    out << "| " << index << " | `" << m.function << "` | " << m.label << m.name << (m.narrowed.empty() ? "" : " ¹")
        << (m.equivalent.empty() ? "" : " ²") << " | " << verify::bug_class_name(m.bug) << " | ";
    if (m.kernel) {  // float32 only: check's kernel rows (no ledger) and the kernel's verified step
      out << "n/a | " << mark(r.check_f32, e.check_f32) << " | " << mark(r.check_f64, e.check_f64) << " | "
          << mark(r.verify_f32, e.verify_f32) << " | n/a |";
    } else {
      // Where only the ledger's exactness can see the mutant and the ledger has no entry for this
      // configuration (another word list, LibTorch or CPU), it is not judged: say so rather than MISSED.
      const bool unjudged = e.check_ledger && !r.ledger_found && r.threw.empty();  // a throw is a miss
      without_ledger += unjudged ? 1 : 0;
      out << (unjudged ? "no ledger" : mark(r.check_ledger_f32, e.check_ledger)) << " | "
          << mark(r.check_f32, e.check_f32) << " | " << mark(r.check_f64, e.check_f64) << " | "
          << (m.training_step ? mark(r.verify_f32, e.verify_f32) : "n/a") << " | "
          << (m.training_step ? mark(r.verify_f64, e.verify_f64) : "n/a") << " |";
    }
    if (a.gradcheck) out << " " << (r.gradcheck.value_or(false) ? "caught" : "·") << " |";
    out << " " << (r.threw.empty() ? "·" : "THREW") << " |\n";
    if (!m.narrowed.empty()) narrowed += "¹ " + m.name + ": " + m.narrowed + "\n";
    if (!m.equivalent.empty()) narrowed += "² " + m.name + ": " + m.equivalent + "\n";
    if (!r.threw.empty()) narrowed += "THREW " + m.name + ": " + r.threw + "\n";
    j.push_back({{"mutant", m.name},
                 {"function", m.function},
                 {"class", verify::bug_class_name(m.bug)},
                 {"check_ledger_f32", r.check_ledger_f32},
                 {"check_ledger_f64", r.check_ledger_f64},
                 {"ledger_found", r.ledger_found},
                 {"check_f32", r.check_f32},
                 {"check_f64", r.check_f64},
                 {"verify_f32", r.verify_f32},
                 {"verify_f64", r.verify_f64},
                 {"caught_where_expected", ok},
                 {"equivalent", m.equivalent},
                 {"evidence", r.evidence},
                 {"threw", r.threw}});
    if (r.gradcheck) j.back()["gradcheck"] = *r.gradcheck;
  }
  out << "\n"
      << narrowed << "\nBold: where the mutant must be caught (its class). " << as_expected << " of " << index
      << " mutants caught everywhere they must be (an equivalent mutant counts when nothing catches it).\n"
      << "Caught by the verdict " << by_verdict << " / thrown " << thrown << " / equivalent " << equivalent
      << " (a check that throws is not a catch: THREW marks it, and the mutant counts as missed).\n";
  if (without_ledger > 0) {
    out << without_ledger << " mutants could not be judged (\"no ledger\"): only the exactness ledger sees them, and "
        << a.ledger << " has no entry for this configuration in float32 or float64 (--data " << a.data
        << ", this LibTorch and CPU); they count as not caught. To judge them, record entries with `bpninja check "
           "--record-ledger --ledger FILE --data "
        << a.data << " --arch A` for each model, in float32 and float64, review them, and pass --ledger FILE here.\n";
  }
  if (!a.json.empty()) util::write_file_atomically(a.json, j.dump(2) + "\n");
  return as_expected == index ? kExitOk : kExitCheckFailed;
}
}  // namespace

void add_mutants_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto args = std::make_shared<MutantsArgs>();
  CLI::App* cmd =
      app.add_subcommand("mutants", "Run the mutation catalog through every check and print which catches which");
  cmd->add_option("--data", args->data, "Word list, one word per line")->capture_default_str();
  cmd->add_option("--ledger", args->ledger, "Exactness ledger (JSON)")->capture_default_str();
  cmd->add_option("--json", args->json, "Write the results as JSON to FILE (atomically)");
  cmd->add_flag("--gradcheck", args->gradcheck, "Also run gradcheck (float64 central differences) per mutant (slow)");
  cmd->callback([args, &action, &out] { action = [args, &out] { return run_mutants_command(*args, out); }; });
}

}  // namespace bpn::cli
