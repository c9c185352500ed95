// bpninja gradcheck: every gradient three ways (manual, autograd, central differences in float64).
#include <ostream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/options.h"
#include "models/registry.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "verify/gradcheck.h"

namespace bpn::cli {

namespace {
struct GradcheckArgs {
  std::string data = "data/names.txt";
  std::string dtype = "float64";
  std::string device = "cpu";
  std::string json;
  std::string arch;
  Options model_options;
};
}  // namespace

void add_gradcheck_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto a = std::make_shared<GradcheckArgs>();
  CLI::App* cmd = app.add_subcommand("gradcheck",
                                     "Check every manual and autograd gradient against central differences in float64");
  cmd->add_option("--data", a->data, "Word list, one word per line")->capture_default_str();
  a->arch = models::all().front()->name();
  cmd->add_option("--arch", a->arch, "The model: " + models::names_text())->capture_default_str();
  auto declared = std::make_shared<ModelOptions>(*cmd, models::Command::kGradcheck);
  cmd->add_option("--dtype", a->dtype, "dtype of the manual and autograd gradients: float32 or float64")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--json", a->json, "Write the table as JSON to FILE (atomically)");
  cmd->callback([a, declared, &action, &out] {
    a->model_options = declared->given();
    action = [a, declared, &out] {
      const models::Model& model = models::named(a->arch);
      declared->require_declared(model, a->model_options);
      const at::ScalarType dtype = parse_dtype(a->dtype);
      const at::Device device = parse_device(a->device);
      if (!a->json.empty()) util::check_writable(a->json, "--json");
      Options options = a->model_options;
      options.set("--data", a->data);
      const verify::GradcheckReport report = model.gradcheck(options, dtype, device);
      out << verify::format_gradcheck(report);
      if (!a->json.empty()) util::write_file_atomically(a->json, report.to_json().dump(2) + "\n");
      return report.pass ? kExitOk : kExitCheckFailed;
    };
  });
}

}  // namespace bpn::cli
