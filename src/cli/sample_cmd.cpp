// bpninja sample: names from a trained checkpoint.
#include <ostream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "models/options.h"
#include "models/registry.h"

namespace bpn::cli {

namespace {
struct SampleArgs {
  std::string model;
  std::int64_t count = 20;
  std::string seed = "2147483657";  // the notebook's sampling cell: its seed 2147483647 + 10
};
}  // namespace

void add_sample_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand("sample", "Sample names from a trained model");
  cmd->add_option("--model", a->model, "Directory written by 'bpninja train --out DIR'")->required();
  cmd->add_option("-n,--count", a->count, "How many names (1..100000)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the sampling generator")->capture_default_str();
  cmd->callback([a, &action, &out] {
    action = [a, &out] {
      require_range("-n/--count", a->count, 1, 100000);
      parse_seed("--seed", a->seed);                                    // before loading anything
      const models::Model& model = models::checkpoint_model(a->model);  // the checkpoint says which model
      for (const auto& name : model.sample(a->model, a->count, parse_seed("--seed", a->seed))) out << name << "\n";
      return kExitOk;
    };
  });
}

}  // namespace bpn::cli
