// makemore's RNN and GRU (rnn.h) on the model interface (models/model.h).
#include "models/rnn/model.h"

#include <cctype>
#include <memory>
#include <string>

#include "models/rnn/check.h"
#include "models/rnn/mutants.h"
#include "models/rnn/train_run.h"
#include "models/rnn/trainer.h"
#include "util/errors.h"

namespace bpn::models {

namespace {

constexpr std::int64_t kRecurrentBlockSize = 3;  // the data set as the MLP reads it; the model builds word sequences
constexpr std::int64_t kRecurrentSeed = 42;

bool begins_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "t3.h" -> "h"
std::string step_row(const std::string& row) {
  if (row.size() > 1 && row[0] == 't' && std::isdigit(static_cast<unsigned char>(row[1]))) {
    const auto dot = row.find('.');
    if (dot != std::string::npos) return row.substr(dot + 1);
  }
  return row;
}

std::string recurrent_anchor(Cell cell, const std::string& full) {
  if (begins_with(full, "step:")) return "adamw";
  const std::string row = step_row(full);
  if (row == "logits") return "masked_cross_entropy_backward";
  if (begins_with(row, "lm_head")) return "linear_backward";
  if (row == "wte") return "embedding_backward";
  if (row == "emb") return "bptt_backward";  // each position's input: the cell's dx at that step
  if (row == "start") return "start_state_backward";
  if (row == "h") return "bptt_backward";  // the hidden state: the head's gradient plus the one carried back
  if (cell == Cell::kGru) {
    if (row == "hbar" || row == "z") return "blend_backward";
    if (row == "r" || row == "hprev_reset") return "product_backward";
    if (begins_with(row, "cell.")) return "gru_cell_backward";
  }
  if (begins_with(row, "cell.")) return "rnn_cell_backward";
  return "";
}

// The small model the mutation runner checks and steps: 8 + 8 channels, 8 words.
template <typename Config>
void small_recurrent(Config& cfg) {
  cfg.model.n_embd = 8;
  cfg.model.n_embd2 = 8;
  cfg.batch_size = 8;
}

class RecurrentModel final : public Model {
 public:
  explicit RecurrentModel(Cell cell) : cell_(cell) {}
  std::string name() const override { return config().arch(); }
  std::string summary() const override {
    return cell_ == Cell::kGru ? "makemore's GRU (backpropagation through time; AdamW lr 5e-4, 5000 steps)"
                               : "makemore's RNN (backpropagation through time; AdamW lr 5e-4, 5000 steps)";
  }
  std::int64_t block_size() const override { return kRecurrentBlockSize; }

  std::vector<OptionSpec> options(Command c) const override {
    const bool small_defaults = c == Command::kGradcheck;  // two forwards per parameter element
    const OptionSpec embd{"--n-embd", "the embedding width (1..4096)", small_defaults ? "8" : "64"};
    const OptionSpec embd2{"--n-embd2", "the hidden state's width (1..4096)", small_defaults ? "8" : "64"};
    const OptionSpec batch{"--batch-size", "batch size (2..1048576)", "32"};
    const OptionSpec seed{"--seed", "seed of generator g", std::to_string(kRecurrentSeed)};
    switch (c) {
      case Command::kCheck:
      case Command::kGradcheck:
        return {embd, embd2, batch, seed};
      case Command::kTrain:
        return {{"--steps", "total number of steps", "5000"},
                {"--lr", "AdamW's learning rate", "5e-4"},
                embd,
                embd2,
                batch,
                seed,
                {"--twin", "also train the autograd twin (torch::optim::AdamW) and compare", "", true},
                {"--verify-every", "every K steps, check the applied gradients and the update against autograd", "0"},
                {"--checkpoint-every", "write the checkpoint every K steps (with --out)", "1000"},
                {"--threads", "threads (1..256); results do not depend on it", "1"},
                {"--out", "directory for the checkpoint, loss.csv and loss.png", ""},
                {"--json", "write the dev loss, steps and seconds as JSON", ""},
                {"--mutant", "inject the catalog's mutant of this name into the layer table", ""}};
      case Command::kGraph:
        return {embd, embd2};
    }
    return {};
  }

  CheckRun check(const Options& o, const CheckSettings& s) const override {
    verify::RecurrentCheckConfig rc = check_config(o, 64);
    require_batch_size(rc.batch_size);
    if (s.device != at::kCPU) throw InputError("--arch " + name() + " runs on the CPU only: leave out --device");
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kRecurrentBlockSize);
    rc.dtype = s.dtype;
    CheckRun run;
    run.report = verify::run_recurrent_check(data, rc);
    train::RecurrentTrainConfig tc;  // and step 0 of `train` with the same model and seed
    tc.model = rc.model;
    tc.batch_size = rc.batch_size;
    run.report.exercises.push_back(train::recurrent_step_exercise(data, tc, s.dtype));
    return run;
  }

  verify::GradcheckReport gradcheck(const Options& o, at::ScalarType dtype, at::Device device) const override {
    verify::RecurrentCheckConfig rc = check_config(o, 8);
    require_batch_size(rc.batch_size);
    if (device != at::kCPU) throw InputError("--arch " + name() + " runs on the CPU only: leave out --device");
    rc.dtype = dtype;
    return verify::run_recurrent_gradcheck(data::load_dataset(o.text("--data", ""), kRecurrentBlockSize), rc);
  }

  int train(const Options& o, std::ostream& out, std::ostream& err) const override {
    if (!o.text("--resume", "").empty()) {
      for (const char* option : {"--lr", "--n-embd", "--n-embd2", "--batch-size", "--seed"}) {
        if (o.given(option)) {
          throw InputError(std::string(option) +
                           " cannot be combined with --resume: the model, data order and AdamW come from the "
                           "checkpoint");
        }
      }
    }
    cli::RecurrentTrainArgs a;
    a.cell = cell_;
    a.checkpoint_every = o.integer("--checkpoint-every", 1000);
    require_range("--checkpoint-every", a.checkpoint_every, 1, std::int64_t{1} << 40);
    a.steps = o.integer("--steps", 5000);
    require_range("--steps", a.steps, 0, std::int64_t{1} << 40);
    a.verify_every = o.integer("--verify-every", 0);
    require_range("--verify-every", a.verify_every, 0, std::int64_t{1} << 40);
    a.threads = o.integer("--threads", 1);
    require_range("--threads", a.threads, 1, 256);
    a.n_embd = o.integer("--n-embd", 64);
    a.n_embd2 = o.integer("--n-embd2", 64);
    require_range("--n-embd", a.n_embd, 1, 4096);
    require_range("--n-embd2", a.n_embd2, 1, 4096);
    a.batch_size = o.integer("--batch-size", 32);
    require_range("--batch-size", a.batch_size, 1, 1 << 20);
    a.data = o.text("--data", "");
    a.seed = parse_seed("--seed", o.text("--seed", std::to_string(kRecurrentSeed)));
    a.lr = o.number("--lr", 5e-4);
    if (o.given("--lr")) require_learning_rate("--lr", a.lr);
    a.twin = o.flag("--twin");
    a.out = o.text("--out", "");
    a.json = o.text("--json", "");
    a.resume = o.text("--resume", "");
    a.mutant = o.text("--mutant", "");
    return cli::run_recurrent_train(a, out, err);
  }

  std::vector<std::string> sample(const std::string& dir, std::int64_t count, std::uint64_t seed) const override {
    train::RecurrentCheckpoint c = train::load_recurrent_checkpoint(dir, cell_);
    return train::sample_recurrent(c, count, seed);
  }

  Graph graph(const Options& o) const override {
    verify::RecurrentCheckConfig rc = check_config(o, 64);
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kRecurrentBlockSize);
    return {verify::recurrent_graph_factory(data, rc),
            "makemore " + std::string(cell_ == Cell::kGru ? "GRU" : "RNN") +
                ", the check's forward unrolled over every position (batch 32, n_embd " +
                std::to_string(rc.model.n_embd) + ", n_embd2 " + std::to_string(rc.model.n_embd2) + ")"};
  }

  std::map<std::string, std::set<std::string>> known_rows(const nlohmann::json& config) const override {
    return verify::recurrent_known_rows(config);
  }
  std::string derivation_anchor(const std::string&, const std::string& row) const override {
    return recurrent_anchor(cell_, row);
  }

  std::vector<verify::Mutant> mutants() const override { return cell_ == Cell::kGru ? gru_mutants() : rnn_mutants(); }
  verify::MutantHooks mutant_hooks(const verify::Mutant& m, const data::Dataset& data) const override {
    auto table = std::make_shared<const layers::BackwardTable>(verify::mutated(m, layers::hand_derived()));
    const Cell cell = cell_;
    verify::MutantHooks hooks;
    hooks.check = [table, cell, &data](at::ScalarType dtype) {
      verify::RecurrentCheckConfig cfg;
      cfg.model.cell = cell;
      small_recurrent(cfg);
      cfg.dtype = dtype;
      cfg.table = table.get();
      return verify::run_recurrent_check(data, cfg);
    };
    hooks.step = [table, cell, &data](at::ScalarType dtype) {
      return layer_step_verdict(dtype, [&](const StepJudge& judged) {
        train::RecurrentTrainConfig cfg;
        cfg.model.cell = cell;
        small_recurrent(cfg);
        train::RecurrentState s = train::init_recurrent(cfg, data);
        s.net = RecurrentLM(s.net, dtype);
        s.net.table = table.get();
        train::recurrent_manual_step(
            s, cfg, [&](const train::RecurrentStep& step) { judged(train::check_recurrent_step(step)); });
      });
    };
    hooks.gradcheck = [] { return std::optional<bool>(); };
    return hooks;
  }

 private:
  RecurrentConfig config() const {
    RecurrentConfig c;
    c.cell = cell_;
    return c;
  }
  verify::RecurrentCheckConfig check_config(const Options& o, std::int64_t width) const {
    verify::RecurrentCheckConfig rc;
    rc.model.cell = cell_;
    rc.model.n_embd = o.integer("--n-embd", width);
    rc.model.n_embd2 = o.integer("--n-embd2", width);
    require_range("--n-embd", rc.model.n_embd, 1, 4096);
    require_range("--n-embd2", rc.model.n_embd2, 1, 4096);
    rc.batch_size = o.integer("--batch-size", 32);
    rc.model.seed = parse_seed("--seed", o.text("--seed", std::to_string(kRecurrentSeed)));
    return rc;
  }
  Cell cell_;
};

}  // namespace

const Model& rnn_model() {
  static const RecurrentModel model(Cell::kRnn);
  return model;
}

const Model& gru_model() {
  static const RecurrentModel model(Cell::kGru);
  return model;
}

}  // namespace bpn::models
