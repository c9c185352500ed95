// bpninja gradcheck: every gradient three ways (manual, autograd, central differences in float64).
#include <ostream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "util/atomic_file.h"
#include "verify/gradcheck.h"

namespace bpn::cli {

namespace {
struct GradcheckArgs {
  std::string data = "data/names.txt";
  std::int64_t n_hidden = 64;
  std::int64_t batch_size = 32;
  std::string seed = std::to_string(model::kNotebookSeed);
  std::string dtype = "float64";
  std::string device = "cpu";
  std::string json;
};
}  // namespace

void add_gradcheck_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto a = std::make_shared<GradcheckArgs>();
  CLI::App* cmd = app.add_subcommand("gradcheck",
                                     "Check every manual and autograd gradient against central differences in float64");
  cmd->add_option("--data", a->data, "Word list, one word per line")->capture_default_str();
  cmd->add_option("--n-hidden", a->n_hidden, "Hidden units (1..4096)")->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Batch size (2..1048576)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of generator g")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "dtype of the manual and autograd gradients: float32 or float64")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--json", a->json, "Write the table as JSON to FILE (atomically)");
  cmd->callback([a, &action, &out] {
    action = [a, &out] {
      verify::CheckConfig cfg;
      require_range("--n-hidden", a->n_hidden, 1, 4096);
      require_batch_size(a->batch_size);
      cfg.n_hidden = a->n_hidden;
      cfg.batch_size = a->batch_size;
      cfg.seed = parse_seed("--seed", a->seed);
      cfg.dtype = parse_dtype(a->dtype);
      cfg.device = parse_device(a->device);
      if (!a->json.empty()) util::check_writable(a->json, "--json");
      const data::Dataset data = data::load_dataset(a->data, /*block_size=*/3);
      const verify::GradcheckReport report = verify::run_gradcheck(data, cfg);
      out << verify::format_gradcheck(report);
      if (!a->json.empty()) util::write_file_atomically(a->json, report.to_json().dump(2) + "\n");
      return report.pass ? kExitOk : kExitCheckFailed;
    };
  });
}

}  // namespace bpn::cli
