// makemore's Transformer (gpt.h) on the model interface (models/model.h).
#include "models/gpt/model.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <thread>

#include "models/gpt/check.h"
#include "models/gpt/mutants.h"
#include "models/gpt/train_run.h"
#include "models/gpt/trainer.h"
#include "util/errors.h"

namespace bpn::models {

namespace {

constexpr std::int64_t kBlockSize = 3;  // the data set as the MLP reads it; the GPT builds word sequences
constexpr std::int64_t kSeed = 42;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "h3.attn.c_attn.weight" -> "attn.c_attn.weight"; "h0.q" -> "q"
std::string strip_block(const std::string& row) {
  if (row.size() > 1 && row[0] == 'h' && std::isdigit(static_cast<unsigned char>(row[1]))) {
    const auto dot = row.find('.');
    if (dot != std::string::npos) return row.substr(dot + 1);
  }
  return row;
}

std::string gpt_anchor(const std::string& full) {
  if (starts_with(full, "step:")) return "adamw";
  const std::string row = strip_block(full);
  if (row == "logits" || starts_with(row, "lm_head")) return "linear_backward";  // lm_head
  if (starts_with(row, "ln_")) return "layernorm_backward";                      // ln_1, ln_2, ln_f (+ .weight/.bias)
  if (row == "res1" || row == "res2") return "residual_backward";
  if (row == "gelu") return "gelu_backward";
  if (row == "fc" || row == "mlp_out" || row == "attn_out" || starts_with(row, "mlp.") || starts_with(row, "attn.c_"))
    return "linear_backward";
  if (row == "q" || row == "k" || row == "v") return "linear_backward";  // c_attn's output, split in three
  if (row == "att") return "attention_scores_backward";
  if (row == "probs") return "softmax_backward";
  if (row == "y") return "attention_values_backward";
  if (row == "emb" || row == "wpe") return "position_embedding_backward";
  if (row == "wte") return "embedding_backward";
  return "";
}

// --threads when it is not given: two, where each Linear's dx and dW matmuls run side by side
// (util::run_both: ~4% on the benchmark). Every other op and product runs on one thread, so the
// weights are the same bit for bit at any thread count (docs/determinism.md; tests/determinism/).
std::int64_t default_threads() { return std::min<std::int64_t>(2, std::max(1u, std::thread::hardware_concurrency())); }

// The model sizes of check, gradcheck and graph; `n_layer` the command's default.
models::GPTConfig sizes(const Options& o, std::int64_t n_layer, std::int64_t n_embd) {
  models::GPTConfig c;
  c.n_layer = o.integer("--n-layer", n_layer);
  c.n_head = o.integer("--n-head", 4);
  c.n_embd = o.integer("--n-embd", n_embd);
  require_range("--n-layer", c.n_layer, 1, 48);
  require_range("--n-head", c.n_head, 1, 64);
  require_range("--n-embd", c.n_embd, 1, 4096);
  c.seed = parse_seed("--seed", o.text("--seed", std::to_string(kSeed)));
  return c;
}

// The small GPT the mutation runner checks and steps: 2 blocks, 2 heads, 16 channels, 8 words.
template <typename Config>
void small(Config& cfg) {
  cfg.model.n_layer = 2;
  cfg.model.n_head = 2;
  cfg.model.n_embd = 16;
  cfg.batch_size = 8;
}

class GPTModel final : public Model {
 public:
  std::string name() const override { return "gpt"; }
  std::string summary() const override { return "makemore's Transformer (AdamW lr 5e-4, 5000 steps by default)"; }
  std::int64_t block_size() const override { return kBlockSize; }

  std::vector<OptionSpec> options(Command c) const override {
    const OptionSpec layer{"--n-layer", "blocks (1..48)", c == Command::kGraph ? "1" : "4"};
    const OptionSpec head{"--n-head", "attention heads (1..64; must divide --n-embd)", "4"};
    const OptionSpec embd{"--n-embd", "channels (1..4096)", "64"};
    const OptionSpec batch{"--batch-size", "batch size (2..1048576)", "32"};
    const OptionSpec seed{"--seed", "seed of generator g", std::to_string(kSeed)};
    switch (c) {
      case Command::kCheck:
      case Command::kGradcheck:
        return {layer, head, embd, batch, seed};
      case Command::kTrain:
        return {{"--steps", "total number of steps", "5000"},
                {"--lr", "AdamW's learning rate", "5e-4"},
                layer,
                head,
                embd,
                batch,
                seed,
                {"--twin", "also train the autograd twin (torch::optim::AdamW) and compare", "", true},
                {"--verify-every", "every K steps, check the applied gradients and the update against autograd", "0"},
                {"--checkpoint-every", "write the checkpoint every K steps (with --out)", "1000"},
                {"--threads", "threads (1..256); results do not depend on it", "2"},
                {"--out", "directory for the checkpoint, loss.csv and loss.png", ""},
                {"--json", "write train/val loss, steps and seconds as JSON", ""},
                {"--mutant", "inject the catalog's mutant of this name into the layer table", ""}};
      case Command::kGraph:
        return {layer, head, embd};
    }
    return {};
  }

  CheckRun check(const Options& o, const CheckSettings& s) const override {
    const std::int64_t batch_size = o.integer("--batch-size", 32);
    require_batch_size(batch_size);
    verify::GPTCheckConfig gc;
    gc.model = sizes(o, 4, 64);
    if (s.device != at::kCPU) throw InputError("--arch gpt runs on the CPU only: leave out --device");
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    gc.batch_size = batch_size;
    gc.dtype = s.dtype;
    CheckRun run;
    run.report = verify::run_gpt_check(data, gc);
    train::GPTTrainConfig tc;  // and step 0 of `train --arch gpt` with the same model and seed
    tc.model = gc.model;
    tc.batch_size = gc.batch_size;
    run.report.exercises.push_back(train::gpt_step_exercise(data, tc, s.dtype));
    return run;
  }

  verify::GradcheckReport gradcheck(const Options& o, at::ScalarType dtype, at::Device device) const override {
    const std::int64_t batch_size = o.integer("--batch-size", 32);
    require_batch_size(batch_size);
    verify::GPTCheckConfig gc;
    gc.model = sizes(o, 4, 64);
    if (device != at::kCPU) throw InputError("--arch gpt runs on the CPU only: leave out --device");
    gc.batch_size = batch_size;
    gc.dtype = dtype;
    return verify::run_gpt_gradcheck(data::load_dataset(o.text("--data", ""), kBlockSize), gc);
  }

  int train(const Options& o, std::ostream& out, std::ostream& err) const override {
    if (!o.text("--resume", "").empty()) {
      for (const char* option : {"--lr", "--n-layer", "--n-head", "--n-embd", "--batch-size", "--seed"}) {
        if (o.given(option)) {
          throw InputError(std::string(option) +
                           " cannot be combined with --resume: the model, data order and AdamW come from the "
                           "checkpoint");
        }
      }
    }
    cli::GPTTrainArgs g;
    g.checkpoint_every = o.integer("--checkpoint-every", 1000);
    require_range("--checkpoint-every", g.checkpoint_every, 1, std::int64_t{1} << 40);
    g.steps = o.integer("--steps", 5000);
    require_range("--steps", g.steps, 0, std::int64_t{1} << 40);
    g.verify_every = o.integer("--verify-every", 0);
    require_range("--verify-every", g.verify_every, 0, std::int64_t{1} << 40);
    g.threads = o.integer("--threads", default_threads());
    require_range("--threads", g.threads, 1, 256);
    g.n_layer = o.integer("--n-layer", 4);
    g.n_head = o.integer("--n-head", 4);
    g.n_embd = o.integer("--n-embd", 64);
    require_range("--n-layer", g.n_layer, 1, 48);
    require_range("--n-head", g.n_head, 1, 64);
    require_range("--n-embd", g.n_embd, 1, 4096);
    g.batch_size = o.integer("--batch-size", 32);
    require_range("--batch-size", g.batch_size, 1, 1 << 20);
    g.data = o.text("--data", "");
    g.seed = parse_seed("--seed", o.text("--seed", std::to_string(kSeed)));
    g.lr = o.number("--lr", 5e-4);
    if (o.given("--lr")) require_learning_rate("--lr", g.lr);
    g.twin = o.flag("--twin");
    g.out = o.text("--out", "");
    g.json = o.text("--json", "");
    g.resume = o.text("--resume", "");
    g.mutant = o.text("--mutant", "");
    return cli::run_gpt_train(g, out, err);
  }

  std::vector<std::string> sample(const std::string& dir, std::int64_t count, std::uint64_t seed) const override {
    train::GPTCheckpoint c = train::load_gpt_checkpoint(dir);
    return train::sample_gpt(c, count, seed);
  }

  Graph graph(const Options& o) const override {
    verify::GPTCheckConfig gc;
    gc.model = sizes(o, 1, 64);
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    return {verify::gpt_graph_factory(data, gc),
            "makemore GPT, the check's forward (batch 32, n_layer " + std::to_string(gc.model.n_layer) + ", n_head " +
                std::to_string(gc.model.n_head) + ", n_embd " + std::to_string(gc.model.n_embd) + ")"};
  }

  std::map<std::string, std::set<std::string>> known_rows(const nlohmann::json& config) const override {
    return verify::gpt_known_rows(config);
  }
  std::string derivation_anchor(const std::string&, const std::string& row) const override { return gpt_anchor(row); }

  std::vector<verify::Mutant> mutants() const override { return gpt_mutants(); }
  verify::MutantHooks mutant_hooks(const verify::Mutant& m, const data::Dataset& data) const override {
    auto table = std::make_shared<const layers::BackwardTable>(verify::mutated(m, layers::hand_derived()));
    verify::MutantHooks hooks;
    hooks.check = [table, &data](at::ScalarType dtype) {
      verify::GPTCheckConfig cfg;
      small(cfg);
      cfg.dtype = dtype;
      cfg.table = table.get();
      return verify::run_gpt_check(data, cfg);
    };
    hooks.step = [table, &data](at::ScalarType dtype) {
      return layer_step_verdict(dtype, [&](const StepJudge& judged) {
        train::GPTTrainConfig cfg;
        small(cfg);
        train::GPTState s = train::init_gpt(cfg, data);
        s.net = models::GPT(s.net, dtype);
        s.net.table = table.get();
        train::gpt_manual_step(s, cfg, [&](const train::GPTStep& step) { judged(train::check_gpt_step(step)); });
      });
    };
    hooks.gradcheck = [] { return std::optional<bool>(); };
    return hooks;
  }
};

}  // namespace

const Model& gpt_model() {
  static const GPTModel model;
  return model;
}

}  // namespace bpn::models
