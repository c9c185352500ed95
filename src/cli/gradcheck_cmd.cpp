// bpninja gradcheck: every gradient three ways (manual, autograd, central differences in float64).
#include <ostream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "models/gpt/check.h"
#include "verify/gradcheck.h"
#include "models/wavenet/check.h"

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
  std::string arch = "mlp";
  std::int64_t n_embd = 0;  // 0: the architecture's default (MLP 10, WaveNet 24, GPT 64)
  std::int64_t n_layer = 4, n_head = 4;
  bool n_hidden_given = false, seed_given = false;
};
}  // namespace

void add_gradcheck_command(CLI::App& app, std::function<int()>& action, std::ostream& out) {
  auto a = std::make_shared<GradcheckArgs>();
  CLI::App* cmd = app.add_subcommand("gradcheck",
                                     "Check every manual and autograd gradient against central differences in float64");
  cmd->add_option("--data", a->data, "Word list, one word per line")->capture_default_str();
  cmd->add_option("--arch", a->arch, "mlp, wavenet or gpt")->capture_default_str();
  cmd->add_option("--n-layer", a->n_layer, "GPT only: blocks (keep it small: 2 forwards per element)")
      ->capture_default_str();
  cmd->add_option("--n-head", a->n_head, "GPT only: attention heads")->capture_default_str();
  cmd->add_option("--n-embd", a->n_embd,
                  "WaveNet / GPT: embedding width (defaults 24 / 64; keep it small: 2 forwards per element)");
  cmd->add_option("--n-hidden", a->n_hidden, "Hidden units (1..4096; WaveNet default 128)")->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Batch size (2..1048576)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of generator g")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "dtype of the manual and autograd gradients: float32 or float64")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--json", a->json, "Write the table as JSON to FILE (atomically)");
  cmd->callback([a, cmd, &action, &out] {
    a->n_hidden_given = cmd->count("--n-hidden") > 0;
    a->seed_given = cmd->count("--seed") > 0;
    action = [a, &out] {
      if (a->arch != "mlp" && a->arch != "wavenet" && a->arch != "gpt") {
        throw InputError("--arch must be mlp, wavenet or gpt (got '" + a->arch + "')");
      }
      if (a->arch == "mlp" && a->n_embd != 0) throw InputError("--n-embd is for --arch wavenet; leave it out");
      verify::CheckConfig cfg;
      require_range("--n-hidden", a->n_hidden, 1, 4096);
      require_batch_size(a->batch_size);
      cfg.n_hidden = a->n_hidden;
      cfg.batch_size = a->batch_size;
      cfg.seed = parse_seed("--seed", a->seed);
      cfg.dtype = parse_dtype(a->dtype);
      cfg.device = parse_device(a->device);
      if (!a->json.empty()) util::check_writable(a->json, "--json");
      verify::GradcheckReport report;
      if (a->arch == "gpt") {
        if (cfg.device != at::kCPU) throw InputError("--arch gpt runs on the CPU only: leave out --device");
        require_range("--n-layer", a->n_layer, 1, 48);
        require_range("--n-head", a->n_head, 1, 64);
        verify::GPTCheckConfig gc;
        gc.model.n_layer = a->n_layer;
        gc.model.n_head = a->n_head;
        gc.model.n_embd = a->n_embd == 0 ? 64 : a->n_embd;
        gc.model.seed = a->seed_given ? cfg.seed : 42;
        gc.batch_size = cfg.batch_size;
        gc.dtype = cfg.dtype;
        report = verify::run_gpt_gradcheck(data::load_dataset(a->data, /*block_size=*/3), gc);
      } else if (a->arch == "wavenet") {
        if (cfg.device != at::kCPU) throw InputError("--arch wavenet runs on the CPU only: leave out --device");
        require_range("--n-embd", a->n_embd == 0 ? 24 : a->n_embd, 1, 4096);
        verify::WaveNetCheckConfig wc;
        wc.model.n_embd = a->n_embd == 0 ? 24 : a->n_embd;
        wc.model.n_hidden = a->n_hidden_given ? cfg.n_hidden : 128;
        wc.model.seed = a->seed_given ? cfg.seed : 42;
        wc.batch_size = cfg.batch_size;
        wc.dtype = cfg.dtype;
        report = verify::run_wavenet_gradcheck(data::load_dataset(a->data, /*block_size=*/8), wc);
      } else {
        report = verify::run_gradcheck(data::load_dataset(a->data, /*block_size=*/3), cfg);
      }
      out << verify::format_gradcheck(report);
      if (!a->json.empty()) util::write_file_atomically(a->json, report.to_json().dump(2) + "\n");
      return report.pass ? kExitOk : kExitCheckFailed;
    };
  });
}

}  // namespace bpn::cli
