// Each subcommand registers its options on the app and sets `action` when it is the one chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

namespace bpn::cli {

void add_check_command(CLI::App& app, std::function<int()>& action, std::ostream& out);
void add_train_command(CLI::App& app, std::function<int()>& action, std::ostream& out, std::ostream& err);
void add_sample_command(CLI::App& app, std::function<int()>& action, std::ostream& out);
void add_gradcheck_command(CLI::App& app, std::function<int()>& action, std::ostream& out);
void add_mutants_command(CLI::App& app, std::function<int()>& action, std::ostream& out);
void add_graph_command(CLI::App& app, std::function<int()>& action, std::ostream& out);

}  // namespace bpn::cli
