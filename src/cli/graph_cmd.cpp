// bpninja graph: the autograd graph of the check's forward as Graphviz DOT (verify/autograd_dot.h).
// scripts/graphs.sh renders the three architectures into docs/graph/.
#include <ostream>
#include <string>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/arch_graph.h"
#include "verify/autograd_dot.h"

namespace bpn::cli {

namespace {
struct GraphArgs {
  std::string data = "data/names.txt";
  std::string arch = "mlp";
  std::string out;
  std::int64_t n_layer = 1, n_head = 4, n_embd = 64;  // --arch gpt
  bool gpt_sizes_given = false;
};

int run_graph_command(const GraphArgs& a, std::ostream& out) {
  if (a.gpt_sizes_given && a.arch != "gpt") throw InputError("--n-layer, --n-head and --n-embd are for --arch gpt");
  if (a.out.empty()) throw InputError("--out FILE.dot is required: the DOT file to write");
  util::check_writable(a.out, "--out");
  if (a.arch == "gpt") {
    require_range("--n-layer", a.n_layer, 1, 48);
    require_range("--n-head", a.n_head, 1, 64);
    require_range("--n-embd", a.n_embd, 1, 4096);
  }
  const verify::ArchGraph g = verify::arch_graph(a.arch, a.data, {a.n_layer, a.n_head, a.n_embd});
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
  cmd->add_option("--arch", args->arch, "mlp, wavenet or gpt")->capture_default_str();
  cmd->add_option("--out", args->out, "The DOT file to write (atomically), e.g. docs/graph/mlp.dot");
  cmd->add_option("--n-layer", args->n_layer, "--arch gpt: blocks (1..48)")->capture_default_str();
  cmd->add_option("--n-head", args->n_head, "--arch gpt: attention heads (1..64; must divide --n-embd)")
      ->capture_default_str();
  cmd->add_option("--n-embd", args->n_embd, "--arch gpt: channels (1..4096)")->capture_default_str();
  cmd->callback([args, cmd, &action, &out] {
    args->gpt_sizes_given = cmd->count("--n-layer") + cmd->count("--n-head") + cmd->count("--n-embd") > 0;
    action = [args, &out] { return run_graph_command(*args, out); };
  });
}

}  // namespace bpn::cli
