#include "cli/model_options.h"

#include <algorithm>

#include "models/registry.h"
#include "util/errors.h"

namespace bpn::cli {

namespace {
bool takes(const models::Model& model, models::Command command, const std::string& name) {
  const auto specs = model.options(command);
  return std::any_of(specs.begin(), specs.end(), [&](const models::OptionSpec& s) { return s.name == name; });
}
}  // namespace

ModelOptions::ModelOptions(CLI::App& cmd, models::Command command) : command_(command), command_name_(cmd.get_name()) {
  // Per option: each distinct (help, default) with the models that give it, in registry order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> texts;
  std::map<std::string, bool> is_flag;
  for (const models::Model* model : models::all()) {
    for (const models::OptionSpec& spec : model->options(command)) {
      if (!texts.count(spec.name)) order.push_back(spec.name);
      const std::string text = spec.help + (spec.default_text.empty() ? "" : " (default " + spec.default_text + ")");
      auto& entries = texts[spec.name];
      const auto same = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == text; });
      if (same == entries.end()) {
        entries.push_back({text, {model->name()}});
      } else {
        same->second.push_back(model->name());
      }
      is_flag[spec.name] = spec.flag;
    }
  }
  for (const std::string& name : order) {
    std::string help;
    for (const auto& [text, names] : texts[name]) {
      std::string who;
      for (const std::string& n : names) who += (who.empty() ? "" : ", ") + n;
      help += (help.empty() ? "" : "; ") + ("--arch " + who + ": " + text);
    }
    CLI::Option* option =
        is_flag[name] ? cmd.add_flag(name, flags_[name], help) : cmd.add_option(name, values_[name], help);
    declared_.push_back({name, option});
  }
}

Options ModelOptions::given() const {
  Options o;
  for (const auto& [name, option] : declared_) {
    if (option->count() == 0) continue;
    o.set(name, flags_.count(name) ? (flags_.at(name) ? "true" : "false") : values_.at(name));
  }
  return o;
}

void ModelOptions::require_declared(const models::Model& model, const Options& o) const {
  for (const std::string& name : o.names()) {
    if (takes(model, command_, name)) continue;
    std::string others;
    for (const models::Model* m : models::all()) {
      if (takes(*m, command_, name)) others += (others.empty() ? "" : ", ") + m->name();
    }
    throw InputError(name + " is not an option of `bpninja " + command_name_ + " --arch " + model.name() +
                     "` (it is for --arch " + others + "); leave it out");
  }
}

}  // namespace bpn::cli
