// bpninja train: a model trained with its hand-derived backward only (Exercise 4 for the MLP). The
// run itself is the model's (models/model.h); a resumed run's model is the checkpoint's.
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/registry.h"
#include "train/run.h"
#include "util/errors.h"

namespace bpn::cli {

namespace {
struct TrainArgs {
  std::string data = "data/names.txt";
  std::string arch;
  std::string resume;
  bool arch_given = false;
  Options model_options;
};

int run_train_command(const TrainArgs& a, const ModelOptions& declared, std::ostream& out, std::ostream& err) {
  const models::Model& model = a.resume.empty() ? models::named(a.arch) : models::checkpoint_model(a.resume);
  if (a.arch_given && !a.resume.empty() && a.arch != model.name()) {
    throw InputError("--arch " + a.arch + " does not match the checkpoint in " + a.resume + " (" + model.name() +
                     "); leave --arch out when resuming");
  }
  declared.require_declared(model, a.model_options);
  Options options = a.model_options;
  options.set("--data", a.data);
  if (!a.resume.empty()) options.set("--resume", a.resume);
  return model.train(options, out, err);
}
}  // namespace

void add_train_command(CLI::App& app, std::function<int()>& action, std::ostream& out, std::ostream& err) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd =
      app.add_subcommand("train", "Train a model with its hand-derived backward pass only (Exercise 4 for the MLP)");
  cmd->add_option("--data", a->data, "Word list, one word per line")->capture_default_str();
  std::string models_help;
  for (const models::Model* m : models::all())
    models_help += (models_help.empty() ? "" : "; ") + m->name() + ": " + m->summary();
  a->arch = models::all().front()->name();
  CLI::Option* arch = cmd->add_option("--arch", a->arch, "The model: " + models_help)->capture_default_str();
  cmd->add_option("--resume", a->resume, "Continue the run saved in this directory (its model, data order, optimizer)");
  auto declared = std::make_shared<ModelOptions>(*cmd, models::Command::kTrain);
  cmd->callback([a, arch, declared, &action, &out, &err] {
    a->arch_given = arch->count() > 0;
    a->model_options = declared->given();
    action = [a, declared, &out, &err] {
      try {
        return run_train_command(*a, *declared, out, err);
      } catch (const train::TrainingFailure& e) {
        err << "bpninja: training failed: " << e.what() << "\n";
        return kExitCheckFailed;
      }
    };
  });
}

}  // namespace bpn::cli
