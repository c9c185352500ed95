// bpninja check: the notebook's experiment, Exercises 1-3, as tables and an optional JSON report.
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/options.h"
#include "models/registry.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/gradcheck.h"
#include "verify/report.h"

#ifndef BPNINJA_DEFAULT_LEDGER
#define BPNINJA_DEFAULT_LEDGER "tests/golden/exactness.json"
#endif

namespace bpn::cli {

namespace {
struct CheckArgs {
  std::string data = "data/names.txt";
  std::string json;
  std::string dtype = "float32";
  std::string device = "cpu";
  std::string ledger = BPNINJA_DEFAULT_LEDGER;
  bool record_ledger = false;
  bool require_ledger = false;
  bool accept_regression = false;
  std::string arch;
  Options model_options;  // what the model reads (models/model.h)
};

// The last line of every check: one verdict, after everything that was asked for has run.
std::string verdict_line(bool pass, const verify::CheckReport& r, bool gradcheck_ran) {
  std::string what = gradcheck_ran ? "every expectation holds (check and gradcheck)" : "every expectation holds";
  if (!pass) return "FAIL: some expectation does not hold (see the rows marked FAIL above)\n";
  return "PASS: " + what + "; " + verify::exactness_summary(r) + "\n";
}

int run_check_command(const CheckArgs& a, const ModelOptions& declared, std::ostream& out) {
  const models::Model& model = models::named(a.arch);
  declared.require_declared(model, a.model_options);
  models::CheckSettings settings;
  settings.dtype = parse_dtype(a.dtype);
  settings.device = parse_device(a.device);
  settings.record_ledger = a.record_ledger;
  if (a.accept_regression && !a.record_ledger) {
    throw InputError("--accept-regression only applies to --record-ledger: add --record-ledger or leave it out");
  }
  if (!a.json.empty()) util::check_writable(a.json, "--json");
  if (a.record_ledger) util::check_writable(a.ledger, "--ledger");
  Options options = a.model_options;
  options.set("--data", a.data);
  verify::Ledger ledger = verify::Ledger::load(a.ledger);
  ledger.validate(models::known_rows_for, a.ledger);
  models::CheckRun run = model.check(options, settings);
  verify::CheckReport& report = run.report;
  verify::apply_expectations(report, &ledger);
  bool pass = report.pass;
  std::string ledger_problem;

  if (a.record_ledger) {
    const verify::LedgerDiff diff = verify::ledger_diff(report, ledger);
    out << "ledger diff for " << report.env.key() << ":\n" << diff.describe();
    const auto failures = report.failures_besides_exactness();
    if (!failures.empty()) {
      ledger_problem = "not recorded: this run fails its verdict (" + failures.front() +
                       (failures.size() > 1 ? "; and " + std::to_string(failures.size() - 1) + " more" : "") +
                       "); a failing run is never recorded";
    } else if (diff.drops_anything() && !a.accept_regression) {
      ledger_problem =
          "not recorded: tensors recorded exact are no longer bit-exact (the '-' lines above); "
          "if the change is understood, record with --record-ledger --accept-regression";
    } else {
      verify::record_exactness(report, ledger);
      ledger.save(a.ledger);
      verify::apply_expectations(report, &ledger);
      pass = report.pass;
      out << "recorded the exactness of " << report.env.key() << " in " << a.ledger
          << "; review the diff above and commit the ledger\n";
    }
  }
  if (a.require_ledger && !report.ledger_found && ledger_problem.empty()) {
    ledger_problem = "no ledger entry for " + report.env.key() + " and this configuration, and --require-ledger " +
                     "is set: record one with `bpninja check --record-ledger` (same options), review it, commit it";
  }
  out << verify::format_report(report);
  nlohmann::json j = report.to_json(
      [&model](const std::string& exercise, const std::string& row) { return model.derivation_anchor(exercise, row); });
  if (run.gradcheck) {
    out << "\n" << verify::format_gradcheck(*run.gradcheck);
    j["gradcheck"] = run.gradcheck->to_json();
    pass = pass && run.gradcheck->pass;
  }
  if (!ledger_problem.empty()) {
    pass = false;
    out << "\nledger: " << ledger_problem << "\n";
  }
  j["pass"] = pass;
  j["ledger"]["required"] = a.require_ledger;
  if (!a.json.empty()) util::write_file_atomically(a.json, j.dump(2) + "\n");
  out << "\n" << verdict_line(pass, report, run.gradcheck.has_value());
  return pass ? kExitOk : kExitCheckFailed;
}
}  // namespace

void add_check_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Run the notebook's experiment: every hand-derived gradient vs autograd");
  cmd->add_option("--data", args->data, "Word list, one word per line")->capture_default_str();
  std::string models_help;
  for (const models::Model* m : models::all())
    models_help += (models_help.empty() ? "" : "; ") + m->name() + ": " + m->summary();
  args->arch = models::all().front()->name();
  cmd->add_option("--arch", args->arch, "The model: " + models_help)->capture_default_str();
  auto declared = std::make_shared<ModelOptions>(*cmd, models::Command::kCheck);
  cmd->add_option("--json", args->json, "Write the report as JSON to FILE (atomically)");
  cmd->add_option("--dtype", args->dtype, "float32 or float64")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--ledger", args->ledger, "Exactness ledger (JSON)")->capture_default_str();
  cmd->add_flag("--record-ledger", args->record_ledger,
                "Record the measured exactness for this LibTorch/CPU/dtype/device in the ledger (prints the diff; "
                "refused for a failing run or one that drops a recorded-exact tensor)");
  cmd->add_flag("--accept-regression", args->accept_regression,
                "With --record-ledger: record even though recorded-exact tensors are no longer exact");
  cmd->add_flag("--require-ledger", args->require_ledger,
                "Fail (exit 1) when the ledger has no entry for this environment and configuration");
  cmd->callback([args, declared, &action, &out] {
    args->model_options = declared->given();
    action = [args, declared, &out] { return run_check_command(*args, *declared, out); };
  });
}

}  // namespace bpn::cli
