// The models bpninja knows, in one list (registry.cpp): the commands, the ledger, the mutation
// catalog and --help read it, so a new model is a folder and one line there.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "models/model.h"

namespace bpn::models {

// In the order --help and the mutation table list them.
const std::vector<const Model*>& all();

// The model --arch names; throws bpn::InputError "--arch must be mlp, wavenet or gpt (got 'x')".
const Model& named(const std::string& name);

// "mlp, wavenet or gpt": the registered names, for help and error messages.
std::string names_text();

// The model whose checkpoint `dir` holds (its metadata's "arch"; a checkpoint without one, the legacy
// format, is the first model's). Throws bpn::InputError when `dir` is not a directory and for a model
// this build does not know.
const Model& checkpoint_model(const std::string& dir);

// The ledger's rows for a configuration: its "arch" (none: the first model, whose entries predate the
// key) names the model. Throws bpn::InputError for an unknown arch.
std::map<std::string, std::set<std::string>> known_rows_for(const nlohmann::json& config);
const Model& model_of_config(const nlohmann::json& config);

// Every model's mutants, in registry order.
std::vector<verify::Mutant> mutant_catalog();

}  // namespace bpn::models
