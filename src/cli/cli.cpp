#include "cli/cli.h"

#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>

#include "cli/commands.h"
#include "models/registry.h"
#include "util/errors.h"

namespace bpn::cli {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"backprop-ninja: hand-derived backpropagation, checked against torch::autograd element by element",
               "bpninja"};
  std::string models = "Models (--arch):\n";
  for (const models::Model* m : models::all()) {
    models +=
        "  " + m->name() + std::string(m->name().size() < 10 ? 10 - m->name().size() : 1, ' ') + m->summary() + "\n";
  }
  app.footer(models);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");

  std::function<int()> action;
  add_check_command(app, action, out);
  add_train_command(app, action, out, err);
  add_sample_command(app, action, out);
  add_gradcheck_command(app, action, out);
  add_mutants_command(app, action, out);
  add_graph_command(app, action, out);

  try {
    for (int i = 2; i < argc; ++i) {  // CLI11 reads an empty value as 0 for numbers
      if (argv[i][0] == '\0' && argv[i - 1][0] == '-') {
        err << "bpninja: error: option " << argv[i - 1] << " was given an empty value; give a value or leave it out\n";
        return kExitBadInput;
      }
    }
    if (argc > 1 && argv[1][0] != '-') {
      const auto known = app.get_subcommands([&](const CLI::App* sub) { return sub->get_name() == argv[1]; });
      if (known.empty()) {
        err << "bpninja: error: unknown command '" << argv[1]
            << "'; the commands are check, gradcheck, train, sample, mutants and graph\n";
        return kExitBadInput;
      }
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      out << app.help();
      return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
      out << app.help("", CLI::AppFormatMode::All);
      return kExitOk;
    } catch (const CLI::ParseError& e) {
      std::string message = e.what();
      std::replace(message.begin(), message.end(), '\n', ' ');
      err << "bpninja: error: " << message << "; run 'bpninja --help-all' for the options and their ranges\n";
      return kExitBadInput;
    }
    return action();
  } catch (const InputError& e) {
    err << "bpninja: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const c10::Error& e) {
    err << "bpninja: internal error (LibTorch): " << e.what_without_backtrace() << "\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    err << "bpninja: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

}  // namespace bpn::cli
