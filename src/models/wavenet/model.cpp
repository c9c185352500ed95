// The WaveNet of makemore part 5 (wavenet.h) on the model interface (models/model.h).
#include "models/wavenet/model.h"

#include <map>
#include <memory>
#include <string>

#include "models/wavenet/check.h"
#include "models/wavenet/mutants.h"
#include "models/wavenet/train_run.h"
#include "models/wavenet/trainer.h"
#include "util/errors.h"

namespace bpn::models {

namespace {

constexpr std::int64_t kBlockSize = 8;  // the lecture's context
constexpr std::int64_t kSeed = 42;      // makemore part 5's
constexpr std::int64_t kHidden = 128;

std::string wavenet_anchor(const std::string& row) {
  static const std::map<std::string, std::string> kinds = {
      {"embedding", "embedding_backward"}, {"flatten", "flatten_consecutive_backward"},
      {"linear", "linear_backward"},       {"batchnorm", "batchnorm1d_backward"},
      {"tanh", "tanh_backward"},
  };
  if (row.rfind("step:", 0) == 0) return "exercise-4-the-training-step";  // SGD
  std::string kind = row.substr(0, row.find_first_of("0123456789."));
  const auto it = kinds.find(kind);
  return it == kinds.end() ? "" : it->second;
}

void require_cpu(at::Device device, const std::string& name) {
  if (device != at::kCPU) throw InputError("--arch " + name + " runs on the CPU only: leave out --device");
}

class WaveNetModel final : public Model {
 public:
  std::string name() const override { return "wavenet"; }
  std::string summary() const override { return "makemore part 5's WaveNet (seed 42, n_hidden 128)"; }
  std::int64_t block_size() const override { return kBlockSize; }

  std::vector<OptionSpec> options(Command c) const override {
    const OptionSpec hidden{"--n-hidden", "hidden units (1..4096)", std::to_string(kHidden)};
    const OptionSpec batch{"--batch-size", "batch size (2..1048576)", "32"};
    const OptionSpec seed{"--seed", "seed of generator g", std::to_string(kSeed)};
    switch (c) {
      case Command::kCheck:
        return {hidden, batch, seed};
      case Command::kGradcheck:
        return {{"--n-embd", "embedding width (keep it small: 2 forwards per element)", "24"}, hidden, batch, seed};
      case Command::kTrain:
        return {{"--steps", "total number of steps", "200000"},
                {"--lr", "learning rate before --decay-step", "0.1"},
                {"--lr-decayed", "learning rate from --decay-step on", "0.01"},
                {"--decay-step", "step at which the learning rate drops", "150000"},
                hidden,
                batch,
                seed,
                {"--verify-every", "every K steps, check the applied gradients and the update against autograd", "0"},
                {"--checkpoint-every", "write the checkpoint every K steps (with --out)", "10000"},
                {"--threads", "threads (1..256)", "1"},
                {"--out", "directory for the checkpoint, loss.csv and loss.png", ""},
                {"--json", "write train/val loss, steps and seconds as JSON", ""},
                {"--mutant", "inject the catalog's mutant of this name into the layer table", ""}};
      case Command::kGraph:
        return {};
    }
    return {};
  }

  CheckRun check(const Options& o, const CheckSettings& s) const override {
    require_range("--n-hidden", o.integer("--n-hidden", kHidden), 1, 4096);
    const std::int64_t batch_size = o.integer("--batch-size", 32);
    require_batch_size(batch_size);
    const std::uint64_t seed = parse_seed("--seed", o.text("--seed", std::to_string(kSeed)));
    require_cpu(s.device, name());
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    verify::WaveNetCheckConfig wc;
    wc.model.n_hidden = o.integer("--n-hidden", kHidden);
    wc.model.seed = seed;
    wc.batch_size = batch_size;
    wc.dtype = s.dtype;
    CheckRun run;
    run.report = verify::run_wavenet_check(data, wc);
    train::WaveNetTrainConfig tc;  // and step 0 of `train --arch wavenet` with the same model and seed
    tc.model = wc.model;
    tc.batch_size = wc.batch_size;
    run.report.exercises.push_back(train::wavenet_step_exercise(data, tc, s.dtype));
    return run;
  }

  verify::GradcheckReport gradcheck(const Options& o, at::ScalarType dtype, at::Device device) const override {
    const std::int64_t n_hidden = o.integer("--n-hidden", kHidden);
    require_range("--n-hidden", n_hidden, 1, 4096);
    const std::int64_t batch_size = o.integer("--batch-size", 32);
    require_batch_size(batch_size);
    const std::uint64_t seed = parse_seed("--seed", o.text("--seed", std::to_string(kSeed)));
    require_cpu(device, name());
    const std::int64_t n_embd = o.integer("--n-embd", 24);
    require_range("--n-embd", n_embd, 1, 4096);
    verify::WaveNetCheckConfig wc;
    wc.model.n_embd = n_embd;
    wc.model.n_hidden = n_hidden;
    wc.model.seed = seed;
    wc.batch_size = batch_size;
    wc.dtype = dtype;
    return verify::run_wavenet_gradcheck(data::load_dataset(o.text("--data", ""), kBlockSize), wc);
  }

  int train(const Options& o, std::ostream& out, std::ostream& err) const override {
    require_range("--steps", o.integer("--steps", 200000), 0, std::int64_t{1} << 40);
    require_range("--verify-every", o.integer("--verify-every", 0), 0, std::int64_t{1} << 40);
    require_range("--threads", o.integer("--threads", 1), 1, 256);
    require_range("--n-hidden", o.integer("--n-hidden", kHidden), 1, 4096);
    require_batch_size(o.integer("--batch-size", 32));
    require_learning_rate("--lr", o.number("--lr", 0.1));
    require_learning_rate("--lr-decayed", o.number("--lr-decayed", 0.01));
    cli::WaveNetTrainArgs w;
    w.data = o.text("--data", "");
    w.steps = o.integer("--steps", 200000);
    w.lr = o.number("--lr", 0.1);
    w.lr_decayed = o.number("--lr-decayed", 0.01);
    w.decay_step = o.integer("--decay-step", 150000);
    w.n_hidden = o.integer("--n-hidden", kHidden);
    w.batch_size = o.integer("--batch-size", 32);
    w.seed = parse_seed("--seed", o.text("--seed", std::to_string(kSeed)));
    w.verify_every = o.integer("--verify-every", 0);
    w.threads = o.integer("--threads", 1);
    w.out = o.text("--out", "");
    w.json = o.text("--json", "");
    w.resume = o.text("--resume", "");
    w.checkpoint_every = o.integer("--checkpoint-every", 10000);
    require_range("--checkpoint-every", w.checkpoint_every, 1, std::int64_t{1} << 40);
    w.mutant = o.text("--mutant", "");
    if (!w.resume.empty()) {
      for (const char* option : {"--lr", "--lr-decayed", "--decay-step", "--n-hidden", "--batch-size", "--seed"}) {
        if (o.given(option)) {
          throw InputError(std::string(option) +
                           " cannot be combined with --resume: the model, data order and "
                           "learning rates come from the checkpoint");
        }
      }
    }
    return cli::run_wavenet_train(w, out, err);
  }

  std::vector<std::string> sample(const std::string& dir, std::int64_t count, std::uint64_t seed) const override {
    train::WaveNetCheckpoint c = train::load_wavenet_checkpoint(dir);
    return train::sample_wavenet(c, count, seed);
  }

  Graph graph(const Options& o) const override {
    const data::Dataset data = data::load_dataset(o.text("--data", ""), kBlockSize);
    verify::WaveNetCheckConfig wc;
    wc.model.n_hidden = kHidden;
    wc.model.seed = kSeed;
    return {verify::wavenet_graph_factory(data, wc),
            "makemore part 5 WaveNet, the check's forward (batch 32, n_embd 24, n_hidden 128)"};
  }

  std::map<std::string, std::set<std::string>> known_rows(const nlohmann::json& config) const override {
    return verify::wavenet_known_rows(config);
  }
  std::string derivation_anchor(const std::string&, const std::string& row) const override {
    return wavenet_anchor(row);
  }

  std::vector<verify::Mutant> mutants() const override { return wavenet_mutants(); }
  verify::MutantHooks mutant_hooks(const verify::Mutant& m, const data::Dataset& data) const override {
    auto table = std::make_shared<const layers::BackwardTable>(verify::mutated(m, layers::hand_derived()));
    verify::MutantHooks hooks;
    hooks.check = [table, &data](at::ScalarType dtype) {
      verify::WaveNetCheckConfig cfg;
      cfg.dtype = dtype;
      cfg.table = table.get();
      return verify::run_wavenet_check(data, cfg);
    };
    hooks.step = [table, &data](at::ScalarType dtype) {
      return layer_step_verdict(dtype, [&](const StepJudge& judged) {
        train::WaveNetTrainConfig cfg;
        train::WaveNetState s = train::init_wavenet(cfg, data);
        s.net = models::WaveNet(s.net, dtype);
        s.net.set_table(table.get());
        train::wavenet_manual_step(s, cfg, data.train,
                                   [&](const train::WaveNetStep& step) { judged(train::check_wavenet_step(step)); });
      });
    };
    hooks.gradcheck = [] { return std::optional<bool>(); };
    return hooks;
  }
};

}  // namespace

const Model& wavenet_model() {
  static const WaveNetModel model;
  return model;
}

}  // namespace bpn::models
