// bpninja check: the notebook's experiment, Exercises 1-3, as tables and an optional JSON report.
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "models/gpt/trainer.h"
#include "models/mlp/params_file.h"
#include "models/wavenet/trainer.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/check.h"
#include "models/gpt/check.h"
#include "verify/gradcheck.h"
#include "models/wavenet/check.h"

#ifndef BPNINJA_DEFAULT_LEDGER
#define BPNINJA_DEFAULT_LEDGER "tests/golden/exactness.json"
#endif

namespace bpn::cli {

namespace {
struct CheckArgs {
  std::string data = "data/names.txt";
  std::int64_t n_hidden = 64;
  std::int64_t batch_size = 32;
  std::string seed = std::to_string(model::kNotebookSeed);
  std::string exercise = "all";
  std::string json;
  std::string dtype = "float32";
  std::string device = "cpu";
  std::string ledger = BPNINJA_DEFAULT_LEDGER;
  bool record_ledger = false;
  bool require_ledger = false;
  bool accept_regression = false;
  bool gradcheck = false;
  std::string arch = "mlp";
  std::int64_t n_layer = 4, n_head = 4, n_embd = 64;  // --arch gpt
  std::string params;                                 // --params FILE: the MLP's weights
  bool n_hidden_given = false, seed_given = false, exercise_given = false, gpt_sizes_given = false;
};

// The last line of every check: one verdict, after everything that was asked for has run.
std::string verdict_line(bool pass, const verify::CheckReport& r, bool gradcheck_ran) {
  std::string what = gradcheck_ran ? "every expectation holds (check and gradcheck)" : "every expectation holds";
  if (!pass) return "FAIL: some expectation does not hold (see the rows marked FAIL above)\n";
  return "PASS: " + what + "; " + verify::exactness_summary(r) + "\n";
}

int run_check_command(const CheckArgs& a, std::ostream& out) {
  if (a.arch != "mlp" && a.arch != "wavenet" && a.arch != "gpt") {
    throw InputError("--arch must be mlp, wavenet or gpt (got '" + a.arch + "')");
  }
  if (a.gpt_sizes_given && a.arch != "gpt") throw InputError("--n-layer, --n-head and --n-embd are for --arch gpt");
  verify::CheckConfig cfg;
  require_range("--n-hidden", a.n_hidden, 1, 4096);
  cfg.n_hidden = a.n_hidden;
  require_batch_size(a.batch_size);
  cfg.batch_size = a.batch_size;
  cfg.seed = parse_seed("--seed", a.seed);
  cfg.dtype = parse_dtype(a.dtype);
  cfg.device = parse_device(a.device);
  if (a.exercise == "all") {
    cfg.exercises = {1, 2, 3, 4};
  } else if (a.exercise.size() == 1 && a.exercise[0] >= '1' && a.exercise[0] <= '4') {
    cfg.exercises = {a.exercise[0] - '0'};
  } else {
    throw InputError("--exercise must be 1, 2, 3, 4 or all (got '" + a.exercise + "')");
  }
  if (a.record_ledger && a.exercise != "all") {
    throw InputError("--record-ledger records every exercise: leave out --exercise");
  }
  if (a.accept_regression && !a.record_ledger) {
    throw InputError("--accept-regression only applies to --record-ledger: add --record-ledger or leave it out");
  }
  if (!a.json.empty()) util::check_writable(a.json, "--json");
  if (a.record_ledger) util::check_writable(a.ledger, "--ledger");

  const bool wavenet = a.arch == "wavenet", gpt = a.arch == "gpt";
  if ((wavenet || gpt) && (a.exercise_given || a.gradcheck)) {
    throw InputError("--exercise and --gradcheck are for --arch mlp; for the others use `bpninja gradcheck --arch " +
                     a.arch + "`");
  }
  if ((wavenet || gpt) && cfg.device != at::kCPU) {
    throw InputError("--arch " + a.arch + " runs on the CPU only: leave out --device");
  }
  if (!a.params.empty() && (wavenet || gpt)) throw InputError("--params is for --arch mlp (the notebook's weights)");
  const data::Dataset data = data::load_dataset(a.data, /*block_size=*/wavenet ? 8 : 3);
  if (!a.params.empty()) {
    train::ParamsFile f = train::load_params_file(a.params, data.vocab.size(), data.block_size);
    if (a.n_hidden_given && a.n_hidden != f.n_hidden) {
      throw InputError("--n-hidden " + std::to_string(a.n_hidden) + " does not match --params (n_hidden " +
                       std::to_string(f.n_hidden) + "); leave --n-hidden out");
    }
    cfg.n_embd = f.n_embd;
    cfg.n_hidden = f.n_hidden;
    cfg.params = std::move(f.params);
    cfg.params_id = f.id;
  }
  verify::Ledger ledger = verify::Ledger::load(a.ledger);
  ledger.validate(verify::known_rows_for, a.ledger);
  verify::CheckReport report;
  if (wavenet) {
    verify::WaveNetCheckConfig wc;
    wc.model.n_hidden = a.n_hidden_given ? a.n_hidden : 128;
    wc.model.seed = a.seed_given ? cfg.seed : 42;
    wc.batch_size = cfg.batch_size;
    wc.dtype = cfg.dtype;
    report = verify::run_wavenet_check(data, wc);
    train::WaveNetTrainConfig tc;  // and step 0 of `train --arch wavenet` with the same model and seed
    tc.model = wc.model;
    tc.batch_size = wc.batch_size;
    report.exercises.push_back(train::wavenet_step_exercise(data, tc, cfg.dtype));
  } else if (gpt) {
    require_range("--n-layer", a.n_layer, 1, 48);
    require_range("--n-head", a.n_head, 1, 64);
    require_range("--n-embd", a.n_embd, 1, 4096);
    verify::GPTCheckConfig gc;
    gc.model.n_layer = a.n_layer;
    gc.model.n_head = a.n_head;
    gc.model.n_embd = a.n_embd;
    gc.model.seed = a.seed_given ? cfg.seed : 42;
    gc.batch_size = cfg.batch_size;
    gc.dtype = cfg.dtype;
    report = verify::run_gpt_check(data, gc);
    train::GPTTrainConfig tc;  // and step 0 of `train --arch gpt` with the same model and seed
    tc.model = gc.model;
    tc.batch_size = gc.batch_size;
    report.exercises.push_back(train::gpt_step_exercise(data, tc, cfg.dtype));
  } else {
    report = verify::run_check(data, cfg);
  }
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
  nlohmann::json j = report.to_json();
  if (a.gradcheck) {
    const verify::GradcheckReport grad = verify::run_gradcheck(data, cfg);
    out << "\n" << verify::format_gradcheck(grad);
    j["gradcheck"] = grad.to_json();
    pass = pass && grad.pass;
  }
  if (!ledger_problem.empty()) {
    pass = false;
    out << "\nledger: " << ledger_problem << "\n";
  }
  j["pass"] = pass;
  j["ledger"]["required"] = a.require_ledger;
  if (!a.json.empty()) util::write_file_atomically(a.json, j.dump(2) + "\n");
  out << "\n" << verdict_line(pass, report, a.gradcheck);
  return pass ? kExitOk : kExitCheckFailed;
}
}  // namespace

void add_check_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Run the notebook's experiment: every hand-derived gradient vs autograd");
  cmd->add_option("--data", args->data, "Word list, one word per line")->capture_default_str();
  cmd->add_option("--arch", args->arch,
                  "mlp (the lecture's MLP, Exercises 1-4), wavenet (makemore part 5) or gpt (makemore's Transformer)")
      ->capture_default_str();
  cmd->add_option("--n-layer", args->n_layer, "--arch gpt: blocks (1..48)")->capture_default_str();
  cmd->add_option("--n-head", args->n_head, "--arch gpt: attention heads (1..64; must divide --n-embd)")
      ->capture_default_str();
  cmd->add_option("--n-embd", args->n_embd, "--arch gpt: channels (1..4096)")->capture_default_str();
  cmd->add_option("--n-hidden", args->n_hidden, "Hidden units (1..4096; the WaveNet's default is 128)")
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Batch size (2..1048576; the variance divides by n-1)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed,
                  "Seed of generator g (MLP: bngain/bnbias use seed+1; the WaveNet's default is 42)")
      ->capture_default_str();
  cmd->add_option("--exercise", args->exercise, "1, 2, 3, 4 or all")->capture_default_str();
  cmd->add_option("--json", args->json, "Write the report as JSON to FILE (atomically)");
  cmd->add_option("--dtype", args->dtype, "float32 or float64")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--ledger", args->ledger, "Exactness ledger (JSON)")->capture_default_str();
  cmd->add_option("--params", args->params,
                  "Check at these weights instead of the initial ones: a safetensors file with C, W1, b1, W2, b2, "
                  "bngain, bnbias (e.g. saved from PyTorch) or a `bpninja train --out` directory");
  cmd->add_flag("--gradcheck", args->gradcheck,
                "Also check every gradient against central differences in float64 (bpninja gradcheck)");
  cmd->add_flag("--record-ledger", args->record_ledger,
                "Record the measured exactness for this LibTorch/CPU/dtype/device in the ledger (prints the diff; "
                "refused for a failing run or one that drops a recorded-exact tensor)");
  cmd->add_flag("--accept-regression", args->accept_regression,
                "With --record-ledger: record even though recorded-exact tensors are no longer exact");
  cmd->add_flag("--require-ledger", args->require_ledger,
                "Fail (exit 1) when the ledger has no entry for this environment and configuration");
  cmd->callback([args, cmd, &action, &out] {
    args->n_hidden_given = cmd->count("--n-hidden") > 0;
    args->seed_given = cmd->count("--seed") > 0;
    args->exercise_given = cmd->count("--exercise") > 0;
    args->gpt_sizes_given = cmd->count("--n-layer") + cmd->count("--n-head") + cmd->count("--n-embd") > 0;
    action = [args, &out] { return run_check_command(*args, out); };
  });
}

}  // namespace bpn::cli
