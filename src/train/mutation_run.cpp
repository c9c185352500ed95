#include "train/mutation_run.h"

#include <exception>
#include <functional>

#include "models/gpt/trainer.h"
#include "train/trainer.h"
#include "models/wavenet/trainer.h"
#include "verify/check.h"
#include "models/gpt/check.h"
#include "verify/gradcheck.h"
#include "models/wavenet/check.h"

namespace bpn::train {

namespace {

std::string first_failure(const verify::CheckReport& r) {
  for (const auto& ex : r.exercises) {
    for (const auto& row : ex.rows) {
      if (!row.pass) return "exercise " + std::to_string(ex.number) + " " + row.cmp.name + ": " + row.note;
    }
  }
  return r.pass ? "" : "a goal of the notebook's configuration";
}

struct CheckOutcome {
  bool caught_with_ledger = false, caught_without = false;
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
CheckOutcome judge_check(const std::function<verify::CheckReport(at::ScalarType)>& run, const verify::Ledger& ledger,
                         at::ScalarType dtype) {
  CheckOutcome out;
  try {
    verify::CheckReport r = run(dtype);
    verify::apply_expectations(r, nullptr);
    out.caught_without = !r.pass;
    if (!r.pass) out.evidence = first_failure(r);
    verify::apply_expectations(r, &ledger);
    out.caught_with_ledger = !r.pass;
    if (!r.pass && out.evidence.empty()) out.evidence = first_failure(r);
  } catch (const std::exception& e) {
    note_throw(out.threw, std::string("check ") + (dtype == at::kDouble ? "float64" : "float32"), e);
  }
  return out;
}

bool step_caught(const model::BackwardTable& table, const data::Dataset& data, at::ScalarType dtype,
                 std::string& evidence, std::string& threw) {
  try {
    TrainConfig cfg;
    cfg.dtype = dtype;
    TrainState state = init_state(cfg, data);
    verify::StepRecord record;
    manual_step(state, cfg, data.train, {}, table, &record);
    const StepCheck check = check_step(record);
    if (!check.pass && evidence.empty()) evidence = "--verify-every: " + check.detail;
    return !check.pass;
  } catch (const std::exception& e) {
    note_throw(threw, "--verify-every", e);
    return false;
  }
}

// The kernel's step with a mutated piece, verified as `train --verify-every` verifies it (float32).
bool kernel_step_caught(const kernel::KernelTable& table, const data::Dataset& data, std::string& evidence,
                        std::string& threw) {
  try {
    const TrainConfig cfg;
    TrainState state = init_state(cfg, data);
    kernel::MlpStepKernel k(state.params, cfg.batch_size, table);
    verify::StepRecord record;
    kernel_step(state, cfg, data.train, k, &record);
    const StepCheck check = check_step(record);
    if (!check.pass && evidence.empty()) evidence = "--verify-every (kernel): " + check.detail;
    return !check.pass;
  } catch (const std::exception& e) {
    note_throw(threw, "--verify-every (kernel)", e);
    return false;
  }
}

// One training step of the WaveNet or the small GPT with a mutated layer table, verified as
// `train --verify-every` verifies it (the applied gradients and the update), in dtype.
bool layer_step_caught(const verify::Mutant& m, const layers::BackwardTable& table, const data::Dataset& data,
                       const data::Dataset& wavenet_data, at::ScalarType dtype, std::string& evidence,
                       std::string& threw) {
  bool caught = false;
  const std::string where = std::string("--verify-every ") + (dtype == at::kDouble ? "float64" : "float32");
  auto judged = [&](const StepCheck& c) {
    if (c.pass) return;
    caught = true;
    if (evidence.empty()) evidence = where + ": " + c.detail;
  };
  try {
    if (m.arch == "wavenet") {
      WaveNetTrainConfig cfg;
      WaveNetState s = init_wavenet(cfg, wavenet_data);
      s.net = models::WaveNet(s.net, dtype);
      s.net.set_table(&table);
      wavenet_manual_step(s, cfg, wavenet_data.train,
                          [&](const WaveNetStep& step) { judged(check_wavenet_step(step)); });
    } else {
      GPTTrainConfig cfg;
      cfg.model.n_layer = 2;
      cfg.model.n_head = 2;
      cfg.model.n_embd = 16;
      cfg.batch_size = 8;
      GPTState s = init_gpt(cfg, data);
      s.net = models::GPT(s.net, dtype);
      s.net.table = &table;
      gpt_manual_step(s, cfg, [&](const GPTStep& step) { judged(check_gpt_step(step)); });
    }
  } catch (const std::exception& e) {
    // a step that throws after its verdict failed was caught (a gradient of the wrong shape is not applied)
    if (!caught) note_throw(threw, where, e);
  }
  return caught;
}
}  // namespace

bool MutantResult::as_expected(const verify::Expectation& e) const {
  return (!e.check_ledger || (check_ledger_f32 && check_ledger_f64)) && (!e.check_f32 || check_f32) &&
         (!e.check_f64 || check_f64) && (!e.verify_f32 || verify_f32) && (!e.verify_f64 || verify_f64);
}

bool MutantResult::caught_anywhere() const {
  return check_ledger_f32 || check_ledger_f64 || check_f32 || check_f64 || verify_f32 || verify_f64 ||
         gradcheck.value_or(false);
}

MutantResult run_mutant(const verify::Mutant& m, const data::Dataset& data, const data::Dataset& wavenet_data,
                        const verify::Ledger& ledger, bool with_gradcheck) {
  MutantResult r;
  const model::BackwardTable table = verify::mutated_table(m);
  const layers::BackwardTable layer_table = verify::mutated_layers_table(m);
  const kernel::KernelTable kernel_table = verify::mutated_kernel_table(m);
  std::function<verify::CheckReport(at::ScalarType)> run;
  if (m.arch == "kernel") {  // check's Exercise 4 runs the kernel step (float32 in both checks)
    run = [&](at::ScalarType dtype) {
      verify::CheckConfig cfg;
      cfg.dtype = dtype;
      cfg.exercises = {4};
      cfg.kernel_table = &kernel_table;
      return verify::run_check(data, cfg);
    };
  } else if (m.arch == "wavenet") {
    run = [&](at::ScalarType dtype) {
      verify::WaveNetCheckConfig cfg;
      cfg.dtype = dtype;
      cfg.table = &layer_table;
      return verify::run_wavenet_check(wavenet_data, cfg);
    };
  } else if (m.arch == "gpt") {  // a small GPT: 2 blocks, 2 heads, 16 channels, 8 words
    run = [&](at::ScalarType dtype) {
      verify::GPTCheckConfig cfg;
      cfg.model.n_layer = 2;
      cfg.model.n_head = 2;
      cfg.model.n_embd = 16;
      cfg.batch_size = 8;
      cfg.dtype = dtype;
      cfg.table = &layer_table;
      return verify::run_gpt_check(data, cfg);
    };
  } else {
    run = [&](at::ScalarType dtype) {
      verify::CheckConfig cfg;
      cfg.dtype = dtype;
      cfg.table = &table;
      return verify::run_check(data, cfg);
    };
  }
  const CheckOutcome c64 = judge_check(run, ledger, at::kDouble);
  const CheckOutcome c32 = judge_check(run, ledger, at::kFloat);
  r.check_ledger_f32 = c32.caught_with_ledger;
  r.check_ledger_f64 = c64.caught_with_ledger;
  r.check_f32 = c32.caught_without;
  r.check_f64 = c64.caught_without;
  r.evidence = !c64.evidence.empty() ? c64.evidence : c32.evidence;
  r.threw = !c64.threw.empty() ? c64.threw : c32.threw;
  if (m.arch == "kernel") {
    r.verify_f32 = kernel_step_caught(kernel_table, data, r.evidence, r.threw);
    return r;
  }
  if (m.arch == "wavenet" || m.arch == "gpt") {  // the layer mutants through a training step too
    r.verify_f64 = layer_step_caught(m, layer_table, data, wavenet_data, at::kDouble, r.evidence, r.threw);
    r.verify_f32 = layer_step_caught(m, layer_table, data, wavenet_data, at::kFloat, r.evidence, r.threw);
  } else if (m.training_step) {
    r.verify_f64 = step_caught(table, data, at::kDouble, r.evidence, r.threw);
    r.verify_f32 = step_caught(table, data, at::kFloat, r.evidence, r.threw);
  }
  if (with_gradcheck) {
    try {
      verify::CheckConfig cfg;
      cfg.dtype = at::kDouble;
      cfg.table = &table;
      r.gradcheck = !verify::run_gradcheck(data, cfg).pass;
    } catch (const std::exception& e) {
      r.gradcheck = false;
      note_throw(r.threw, "gradcheck", e);
    }
  }
  return r;
}

}  // namespace bpn::train
