// The lecture's MLP (Exercises 1-4) on the model interface (models/model.h). Its extra report is the
// notebook's: the chunked graph, the fused closed forms, the lecture's tables (models/mlp/check.h), and
// `check --gradcheck`.
#include "models/mlp/model.h"

#include <map>
#include <memory>
#include <string>

#include "models/mlp/checkpoint.h"
#include "models/mlp/gradcheck.h"
#include "models/mlp/mutants.h"
#include "models/mlp/params_file.h"
#include "models/mlp/train_run.h"
#include "models/mlp/trainer.h"
#include "train/sample.h"
#include "util/errors.h"

namespace bpn::models {

namespace {

constexpr std::int64_t kBlockSize = 3;  // the notebook's context
const std::string kSeed = std::to_string(model::kNotebookSeed);

// Exercise 1: d<row> is returned by this function (models/mlp/backward.h: `<x>_backward(d<x>, ...)`
// returns the gradients of x's inputs). Where gradients add at a fork, the later of the two in the chain.
const std::map<std::string, std::string>& exercise1_anchors() {
  static const std::map<std::string, std::string> m = {
      {"logprobs", "loss_backward"},
      {"probs", "logprobs_backward"},
      {"counts_sum_inv", "probs_backward"},
      {"counts_sum", "counts_sum_inv_backward"},
      {"counts", "counts_sum_backward"},
      {"norm_logits", "counts_backward"},
      {"logit_maxes", "norm_logits_backward"},
      {"logits", "logit_maxes_backward"},
      {"h", "logits_backward"},
      {"W2", "logits_backward"},
      {"b2", "logits_backward"},
      {"hpreact", "h_backward"},
      {"bngain", "hpreact_backward"},
      {"bnbias", "hpreact_backward"},
      {"bnraw", "hpreact_backward"},
      {"bnvar_inv", "bnraw_backward"},
      {"bnvar", "bnvar_inv_backward"},
      {"bndiff2", "bnvar_backward"},
      {"bndiff", "bndiff2_backward"},
      {"bnmeani", "bndiff_backward"},
      {"hprebn", "bnmeani_backward"},
      {"embcat", "hprebn_backward"},
      {"W1", "hprebn_backward"},
      {"b1", "hprebn_backward"},
      {"emb", "embcat_backward"},
      {"C", "emb_backward"},
  };
  return m;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string mlp_anchor(const std::string& exercise, const std::string& row) {
  if (exercise == "exercise1") {
    const auto it = exercise1_anchors().find(row);
    return it == exercise1_anchors().end() ? "" : it->second;
  }
  if (exercise == "exercise2") {
    return row == "logits@ops"          ? "cross_entropy_backward_ops"
           : starts_with(row, "logits") ? "cross_entropy_backward"
                                        : "";
  }
  if (exercise == "exercise3") {
    if (row == "hprebn" || row == "hprebn@batch_norm") return "batchnorm_backward";
    if (row == "hprebn@ops") return "batchnorm_layer_backward_ops";
    if (row == "hprebn@unbiased" || row == "hprebn@biased") return "batchnorm_layer_backward";
    return "";
  }
  if (exercise == "exercise4") {
    if (starts_with(row, verify::kKernelRowPrefix)) return "the-training-kernel";
    if (starts_with(row, "forward:") || starts_with(row, "step:")) return "exercise-4-the-training-step";
    return exercise1_anchors().count(row) ? "fused_backward" : "";
  }
  return "";
}

// The options of check and gradcheck: the notebook's configuration by default.
verify::CheckConfig check_config(const Options& o, at::ScalarType dtype, at::Device device) {
  verify::CheckConfig cfg;
  cfg.n_hidden = o.integer("--n-hidden", cfg.n_hidden);
  require_range("--n-hidden", cfg.n_hidden, 1, 4096);
  cfg.batch_size = o.integer("--batch-size", cfg.batch_size);
  require_batch_size(cfg.batch_size);
  cfg.seed = parse_seed("--seed", o.text("--seed", kSeed));
  cfg.dtype = dtype;
  cfg.device = device;
  return cfg;
}

class MlpModel final : public Model {
 public:
  std::string name() const override { return "mlp"; }
  std::string summary() const override { return "the lecture's MLP (Exercises 1-4)"; }
  std::int64_t block_size() const override { return kBlockSize; }

  std::vector<OptionSpec> options(Command c) const override {
    const OptionSpec batch{"--batch-size", "batch size (2..1048576; the variance divides by n-1)", "32"};
    const OptionSpec seed{"--seed", "seed of generator g (bngain/bnbias use seed+1)", kSeed};
    switch (c) {
      case Command::kCheck:
        return {{"--n-hidden", "hidden units (1..4096)", "64"},
                batch,
                seed,
                {"--exercise", "1, 2, 3, 4 or all", "all"},
                {"--params",
                 "check at these weights instead of the initial ones: a safetensors file with C, W1, b1, W2, b2, "
                 "bngain, bnbias (e.g. saved from PyTorch) or a `bpninja train --out` directory",
                 ""},
                {"--gradcheck", "also check every gradient against central differences in float64", "", true}};
      case Command::kGradcheck:
        return {{"--n-hidden", "hidden units (1..4096)", "64"}, batch, seed};
      case Command::kTrain:
        return {
            {"--steps", "total number of steps", "200000"},
            {"--lr", "learning rate before --decay-step", "0.1"},
            {"--lr-decayed", "learning rate from --decay-step on", "0.01"},
            {"--decay-step", "step at which the learning rate drops", "100000"},
            {"--n-hidden", "hidden units (1..4096)", "200"},
            batch,
            seed,
            {"--dtype", "float32 or float64", "float32"},
            {"--path", "the step: kernel (raw memory, float32, the default) or ops (the tensor-op reference)", ""},
            {"--verify-every",
             "every K steps, check what the step did against autograd: loop forward, applied gradients, update", "0"},
            {"--checkpoint-every", "write the checkpoint every K steps (with --out)", "10000"},
            {"--threads", "threads (1..256); results do not depend on it", "1"},
            {"--out", "directory for the checkpoint, loss.csv and loss.png", ""},
            {"--json", "write train/dev/test loss, steps and seconds as JSON", ""}};
      case Command::kGraph:
        return {};
    }
    return {};
  }

  CheckRun check(const Options& o, const CheckSettings& s) const override {
    verify::CheckConfig cfg = check_config(o, s.dtype, s.device);
    const std::string exercise = o.text("--exercise", "all");
    if (exercise == "all") {
      cfg.exercises = {1, 2, 3, 4};
    } else if (exercise.size() == 1 && exercise[0] >= '1' && exercise[0] <= '4') {
      cfg.exercises = {exercise[0] - '0'};
    } else {
      throw InputError("--exercise must be 1, 2, 3, 4 or all (got '" + exercise + "')");
    }
    if (s.record_ledger && exercise != "all") {
      throw InputError("--record-ledger records every exercise: leave out --exercise");
    }
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    if (o.given("--params")) {
      train::ParamsFile f = train::load_params_file(o.text("--params", ""), data.vocab.size(), data.block_size);
      if (o.given("--n-hidden") && cfg.n_hidden != f.n_hidden) {
        throw InputError("--n-hidden " + std::to_string(cfg.n_hidden) + " does not match --params (n_hidden " +
                         std::to_string(f.n_hidden) + "); leave --n-hidden out");
      }
      cfg.n_embd = f.n_embd;
      cfg.n_hidden = f.n_hidden;
      cfg.params = std::move(f.params);
      cfg.params_id = f.id;
    }
    CheckRun run;
    run.report = verify::run_check(data, cfg);
    if (o.flag("--gradcheck")) run.gradcheck = verify::run_gradcheck(data, cfg);
    return run;
  }

  verify::GradcheckReport gradcheck(const Options& o, at::ScalarType dtype, at::Device device) const override {
    const verify::CheckConfig cfg = check_config(o, dtype, device);
    return verify::run_gradcheck(data::load_dataset(o.text("--data", ""), kBlockSize), cfg);
  }

  int train(const Options& o, std::ostream& out, std::ostream& err) const override {
    return cli::run_mlp_train(o, out, err);
  }

  std::vector<std::string> sample(const std::string& dir, std::int64_t count, std::uint64_t seed) const override {
    return train::sample_names(train::load_checkpoint(dir), count, seed);
  }

  Graph graph(const Options& o) const override {
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    const verify::CheckConfig cfg;  // the notebook's configuration
    const verify::Experiment e = verify::make_experiment(data, cfg);
    return {verify::chunked_graph_factory(e.params, e.batch, model::hand_derived()),
            "makemore MLP, Exercise 1's chunked forward (n = " + std::to_string(cfg.batch_size) + ", n_embd " +
                std::to_string(cfg.n_embd) + ", H = " + std::to_string(cfg.n_hidden) +
                ", V = " + std::to_string(data.vocab.size()) + ")"};
  }

  std::map<std::string, std::set<std::string>> known_rows(const nlohmann::json&) const override {
    return verify::known_rows();
  }
  std::string derivation_anchor(const std::string& exercise, const std::string& row) const override {
    return mlp_anchor(exercise, row);
  }

  // The MLP's functions and the raw-memory kernel's pieces (float32 only: check's Exercise 4 kernel
  // rows, no ledger, and the kernel's verified step).
  std::vector<verify::Mutant> mutants() const override { return mlp_mutants(); }
  verify::MutantHooks mutant_hooks(const verify::Mutant& m, const data::Dataset& data) const override {
    auto table = std::make_shared<const model::BackwardTable>(verify::mutated(m, model::hand_derived()));
    auto kernel_table = std::make_shared<const kernel::KernelTable>(verify::mutated(m, kernel::kernel_functions()));
    const bool is_kernel = m.kernel;
    verify::MutantHooks hooks;
    hooks.check = [=, &data](at::ScalarType dtype) {
      verify::CheckConfig cfg;
      cfg.dtype = dtype;
      if (is_kernel) {  // check's Exercise 4 runs the kernel step (float32 in both checks)
        cfg.exercises = {4};
        cfg.kernel_table = kernel_table.get();
      } else {
        cfg.table = table.get();
      }
      return verify::run_check(data, cfg);
    };
    hooks.step = [=, &data](at::ScalarType dtype) -> std::optional<verify::MutantStep> {
      if (is_kernel) {  // the kernel's step with a mutated piece, verified as `train --verify-every` does
        if (dtype != at::kFloat) return std::nullopt;
        const train::TrainConfig cfg;
        train::TrainState state = train::init_state(cfg, data);
        kernel::MlpStepKernel k(state.params, cfg.batch_size, *kernel_table);
        verify::StepRecord record;
        train::kernel_step(state, cfg, data.train, k, &record);
        const train::StepCheck check = train::check_step(record);
        return verify::MutantStep{!check.pass, check.pass ? "" : "--verify-every (kernel): " + check.detail};
      }
      train::TrainConfig cfg;
      cfg.dtype = dtype;
      train::TrainState state = train::init_state(cfg, data);
      verify::StepRecord record;
      train::manual_step(state, cfg, data.train, {}, *table, &record);
      const train::StepCheck check = train::check_step(record);
      return verify::MutantStep{!check.pass, check.pass ? "" : "--verify-every: " + check.detail};
    };
    hooks.gradcheck = [=, &data]() -> std::optional<bool> {
      if (is_kernel) return std::nullopt;
      verify::CheckConfig cfg;
      cfg.dtype = at::kDouble;
      cfg.table = table.get();
      return !verify::run_gradcheck(data, cfg).pass;
    };
    return hooks;
  }
};

}  // namespace

const Model& mlp_model() {
  static const MlpModel model;
  return model;
}

}  // namespace bpn::models
