// bpninja graph: the autograd graph of the check's forward as Graphviz DOT (verify/autograd_dot.h).
// scripts/graphs.sh renders every registered model into docs/graph/.
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/registry.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/autograd_dot.h"

namespace bpn::cli {

namespace {
struct GraphArgs {
  std::string data = "data/names.txt";
  std::string arch;
  std::string out;
  Options model_options;
};

int run_graph_command(const GraphArgs& a, const ModelOptions& declared, std::ostream& out) {
  const models::Model& model = models::named(a.arch);
  declared.require_declared(model, a.model_options);
  if (a.out.empty()) throw InputError("--out FILE.dot is required: the DOT file to write");
  util::check_writable(a.out, "--out");
  Options options = a.model_options;
  options.set("--data", a.data);
  const models::Model::Graph g = model.graph(options);
  const verify::GraphRun run = g.make(at::kFloat);
  const verify::AutogradDot dot = verify::autograd_dot(run, g.title);
  util::write_file_atomically(a.out, dot.dot);
  out << "wrote " << a.out << " (" << verify::source_hash_tag(dot.source_hash) << "); forks where gradients add:";
  for (const auto& f : dot.forks) out << " " << f;
  out << "\nrender it with: dot -Tsvg " << a.out << " -o FILE.svg\n";
  return kExitOk;
}
}  // namespace

void add_graph_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto args = std::make_shared<GraphArgs>();
  CLI::App* cmd = app.add_subcommand("graph", "Write the autograd graph of the check's forward as Graphviz DOT");
  cmd->add_option("--data", args->data, "Word list, one word per line")->capture_default_str();
  args->arch = models::all().front()->name();
  cmd->add_option("--arch", args->arch, "The model: " + models::names_text())->capture_default_str();
  cmd->add_option("--out", args->out, "The DOT file to write (atomically), e.g. docs/graph/<arch>.dot");
  auto declared = std::make_shared<ModelOptions>(*cmd, models::Command::kGraph);
  cmd->callback([args, declared, &action, &out] {
    args->model_options = declared->given();
    action = [args, declared, &out] { return run_graph_command(*args, *declared, out); };
  });
}

}  // namespace bpn::cli
