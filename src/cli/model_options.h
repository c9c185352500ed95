// The options the registered models take on a command (models/model.h's OptionSpec), declared once
// each on the command: its help lists the models that take it, with their defaults. After parsing,
// `given()` is what a model reads, and `require_declared` rejects an option the chosen model does not take.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace bpn::cli {

class ModelOptions {
 public:
  // Declares every model's options for `command` on `cmd`.
  ModelOptions(CLI::App& cmd, models::Command command);
  // The model options given on the command line.
  Options given() const;
  // Throws bpn::InputError when an option in `o` is not one `model` takes on this command, naming the
  // models that do.
  void require_declared(const models::Model& model, const Options& o) const;

 private:
  models::Command command_;
  std::string command_name_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> flags_;
  std::vector<std::pair<std::string, CLI::Option*>> declared_;
};

}  // namespace bpn::cli
