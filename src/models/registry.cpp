// The one list of models. A new model: its folder under src/models/, and one line here.
#include "models/registry.h"

#include <filesystem>

#include "models/gpt/model.h"
#include "models/mlp/model.h"
#include "models/rnn/model.h"
#include "models/wavenet/model.h"
#include "train/checkpoint_file.h"
#include "util/errors.h"

namespace bpn::models {

const std::vector<const Model*>& all() {
  static const std::vector<const Model*> models = {
      &mlp_model(), &wavenet_model(), &gpt_model(), &rnn_model(), &gru_model(),
  };
  return models;
}

std::string names_text() {
  std::string text;
  const auto& models = all();
  for (std::size_t i = 0; i < models.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == models.size() ? " or " : ", ") + models[i]->name();
  }
  return text;
}

const Model& named(const std::string& name) {
  for (const Model* m : all()) {
    if (m->name() == name) return *m;
  }
  throw InputError("--arch must be " + names_text() + " (got '" + name + "')");
}

const Model& checkpoint_model(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw InputError(dir + ": no such directory; pass the --out directory of a `bpninja train` run");
  }
  const std::string arch = train::safetensors_checkpoint_arch(dir);
  if (arch.empty()) return *all().front();
  for (const Model* m : all()) {
    if (m->name() == arch) return *m;
  }
  throw InputError(dir + " holds a checkpoint of model '" + arch + "', which this build does not know (it knows " +
                   names_text() + ")");
}

const Model& model_of_config(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("arch")) return *all().front();
  const std::string arch = config.at("arch").get<std::string>();
  for (const Model* m : all()) {
    if (m->name() == arch) return *m;
  }
  throw InputError("the ledger has an entry for model '" + arch + "', which this build does not know (it knows " +
                   names_text() + ")");
}

std::map<std::string, std::set<std::string>> known_rows_for(const nlohmann::json& config) {
  return model_of_config(config).known_rows(config);
}

std::vector<verify::Mutant> mutant_catalog() {
  std::vector<verify::Mutant> catalog;
  for (const Model* m : all()) {
    for (verify::Mutant& mutant : m->mutants()) catalog.push_back(std::move(mutant));
  }
  return catalog;
}

}  // namespace bpn::models
