// One model as the commands, the ledger and the mutation runner see it. A model is a folder,
// src/models/<name>/, whose model.cpp implements this interface, plus one line in registry.cpp; the
// generic code (src/cli, src/train, src/verify) never names a model nor includes its folder
// (tests/architecture_test.cmake scans for both). What a model provides:
//   options    the options it takes on each command, with its defaults (the commands declare the union)
//   check      the check's report, expectations not applied, and its extra report if it has one
//   gradcheck  manual and autograd against central differences in float64
//   train      a whole `bpninja train` run: resume, --verify-every, checkpoints, the final losses
//   sample     names from a checkpoint it wrote (the checkpoint's "arch" names the model)
//   graph      the check's forward, recorded, for `bpninja graph` (docs/graph/<name>.dot)
//   ledger     the rows each exercise of a configuration produces, and each row's derivation anchor
//   mutants    its part of the mutation catalog, and the hooks that run one mutant through its checks
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/options.h"
#include "train/run.h"
#include "verify/gradcheck.h"
#include "verify/graph.h"
#include "verify/mutants.h"
#include "verify/mutation_run.h"
#include "verify/report.h"

namespace bpn::models {

using cli::Options;
// The checks every model's options share (models/options.h).
using cli::parse_dtype;
using cli::parse_seed;
using cli::require_batch_size;
using cli::require_learning_rate;
using cli::require_range;

enum class Command { kCheck, kGradcheck, kTrain, kGraph };

// An option a model takes on a command: `--help` shows it with the model's default.
struct OptionSpec {
  std::string name;          // "--n-layer"
  std::string help;          // "blocks (1..48)"
  std::string default_text;  // "4"; empty for none
  bool flag = false;         // a flag (no value)
};

// What `check` gets from a model: the report (not yet judged) and the model's extra report, if asked.
struct CheckRun {
  verify::CheckReport report;
  std::optional<verify::GradcheckReport> gradcheck;
};

// The generic settings `check` passes on (parsed and validated by the command).
struct CheckSettings {
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  bool record_ledger = false;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;         // --arch NAME, the ledger's and the checkpoint's "arch"
  virtual std::string summary() const = 0;      // one line for --help
  virtual std::int64_t block_size() const = 0;  // the context length its data set is loaded with
  virtual std::vector<OptionSpec> options(Command command) const = 0;

  // Each reads --data itself, after checking its options.
  virtual CheckRun check(const Options& o, const CheckSettings& s) const = 0;
  virtual verify::GradcheckReport gradcheck(const Options& o, at::ScalarType dtype, at::Device device) const = 0;
  // The whole run; exit status. Throws train::TrainingFailure (exit 1) and bpn::InputError (exit 2).
  virtual int train(const Options& o, std::ostream& out, std::ostream& err) const = 0;
  virtual std::vector<std::string> sample(const std::string& dir, std::int64_t count, std::uint64_t seed) const = 0;
  struct Graph {
    verify::GraphFactory make;
    std::string title;
  };
  virtual Graph graph(const Options& o) const = 0;

  // The ledger: the rows of each exercise for a configuration of this model, and where each is derived
  // (the anchor in docs/derivations.md, "" when the row is unknown).
  virtual std::map<std::string, std::set<std::string>> known_rows(const nlohmann::json& config) const = 0;
  virtual std::string derivation_anchor(const std::string& exercise, const std::string& row) const = 0;

  // Its part of the mutation catalog (each mutant's `arch` is name()), and the hooks that run one of
  // them through its check and its training step (verify/mutation_run.h); `data` as block_size() loads it.
  virtual std::vector<verify::Mutant> mutants() const = 0;
  virtual verify::MutantHooks mutant_hooks(const verify::Mutant& m, const data::Dataset& data) const = 0;
};

// The layer models' training step with a mutated layer table, verified as `train --verify-every` does
// in dtype: `run(judged)` runs one step and hands each verified step to `judged`. A step that throws
// after its verdict failed was caught (a gradient of the wrong shape is not applied).
// `train --mutant NAME`: the model's mutant NAME, so that a run shows --verify-every catching a
// realistic bug. Throws bpn::InputError naming `bpninja mutants` when NAME is not one of them.
verify::Mutant mutant_named(const Model& model, const std::string& name);

using StepJudge = std::function<void(const train::StepCheck&)>;
std::optional<verify::MutantStep> layer_step_verdict(at::ScalarType dtype,
                                                     const std::function<void(const StepJudge& judged)>& run);

}  // namespace bpn::models
