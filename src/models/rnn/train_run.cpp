#include "models/rnn/train_run.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "models/options.h"
#include "models/rnn/model.h"
#include "models/rnn/trainer.h"
#include "train/checkpoint_file.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "util/malloc_tuning.h"
#include "util/threads.h"

namespace bpn::cli {

int run_recurrent_train(const RecurrentTrainArgs& a, std::ostream& out, std::ostream& err) {
  const models::Model& model = a.cell == models::Cell::kGru ? models::gru_model() : models::rnn_model();
  // --mutant: looked up before anything is written (an unknown name is bad input)
  const layers::BackwardTable mutated =
      a.mutant.empty() ? layers::hand_derived()
                       : verify::mutated(models::mutant_named(model, a.mutant), layers::hand_derived());
  const OutputDirectories outputs = prepare_outputs(a.out, train::kSafetensorsCheckpointFile, a.json);
  const data::Dataset data = data::load_dataset(a.data, /*block_size=*/3);
  util::keep_freed_memory_for_reuse();
  util::set_training_threads(static_cast<int>(a.threads));
  train::RecurrentTrainConfig cfg;
  cfg.model.cell = a.cell;
  cfg.model.n_embd = a.n_embd;
  cfg.model.n_embd2 = a.n_embd2;
  cfg.model.seed = a.seed;
  cfg.batch_size = a.batch_size;
  cfg.adamw.lr = a.lr;
  train::RecurrentState s;
  if (!a.resume.empty()) {
    train::RecurrentCheckpoint c = train::load_recurrent_checkpoint(a.resume, a.cell);
    data::SequenceSplits splits = data::sequence_splits(data);
    train::require_same_data(a.resume, a.data,
                             c.vocab == data.vocab.itos && c.train_words == splits.train.X.size(0) &&
                                 c.config.model.block_size == splits.train.X.size(1),
                             c.data_fingerprint, data);
    if (a.steps < c.state.step) {
      throw InputError("--steps " + std::to_string(a.steps) + " is less than the checkpoint's step " +
                       std::to_string(c.state.step) + "; --steps is the total length of the run");
    }
    if (a.twin) throw InputError("--twin cannot be combined with --resume: the twin trains from step 0");
    cfg = c.config;
    s = std::move(c.state);
    s.train = std::move(splits.train);
    s.val = std::move(splits.val);
    out << "resuming from step " << s.step << "\n";
  } else {
    s = train::init_recurrent(cfg, data);
    cfg.model = s.net.config;  // the sizes the data gave (vocab_size, block_size), for the report and the save
  }
  s.losses.reserve(static_cast<std::size_t>(a.steps));
  if (!a.mutant.empty()) {
    s.net.table = &mutated;
    out << "mutant injected: " << a.mutant << "\n";
  }
  train::RunGuard guard(a.out, a.resume, a.resume.empty() ? -1 : s.step);
  auto save = [&] {
    guard.save(s.step, s.net.parameters(), [&] { train::save_recurrent_checkpoint(a.out, s, cfg, data); });
  };
  require_a_verified_step(a.verify_every, s.step, a.steps);
  const std::int64_t first_step = s.step;
  std::unique_ptr<train::RecurrentTwin> twin = a.twin ? train::make_recurrent_twin(cfg, data) : nullptr;
  out << cfg.model.arch() << ": " << s.net.numel() << " parameters, n_embd " << cfg.model.n_embd << ", n_embd2 "
      << cfg.model.n_embd2 << "; AdamW by hand (lr " << cfg.adamw.lr
      << ", betas (0.9, 0.99), eps 1e-8, weight decay 0.01)\n";
  const auto start = std::chrono::steady_clock::now();
  train::VerifyTally tally("the applied gradients or the update are not what autograd and torch::optim::AdamW compute");
  train::StepLoop loop;
  loop.first = first_step;
  loop.steps = a.steps;
  loop.verify_every = a.verify_every;
  loop.checkpoint_every = a.checkpoint_every;
  loop.fresh = a.resume.empty();
  loop.out_dir = a.out;
  loop.data = a.data;
  loop.step = [&](std::int64_t step, bool verify_now) {
    train::RecurrentInspect inspect;
    if (verify_now) {
      inspect = [&](const train::RecurrentStep& done) { tally.record(step, train::check_recurrent_step(done)); };
    }
    return train::recurrent_manual_step(s, cfg, inspect);
  };
  loop.lr_at = [&](std::int64_t) { return cfg.adamw.lr; };
  loop.save = save;
  loop.after = [&](std::int64_t step, float loss) {
    if ((step + 1) % 500 == 0) {  // makemore evaluates every 500 steps
      char line[96];
      std::snprintf(line, sizeof line, "step %6lld | loss %.4f | dev %.4f\n", static_cast<long long>(step + 1), loss,
                    train::recurrent_split_loss(s.net, s.val));
      out << line << std::flush;
    }
  };
  if (const std::optional<int> interrupted = train::run_step_loop(loop, guard, out)) return *interrupted;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  save();
  const double dev = train::recurrent_split_loss(s.net, s.val);
  char line[256];
  std::snprintf(line, sizeof line, "dev %.4f after %lld steps in %.1f s (%.0f steps/s)\n", dev,
                static_cast<long long>(a.steps - first_step), seconds,
                seconds > 0 ? static_cast<double>(a.steps - first_step) / seconds : 0.0);
  out << line;
  nlohmann::json j = {{"arch", cfg.model.arch()},
                      {"dev_loss", dev},
                      {"steps", a.steps},
                      {"seconds", seconds},
                      {"parameters", s.net.numel()},
                      {"config", cfg.model.to_json()},
                      {"resumed_from", first_step}};
  if (tally.verified() > 0) {
    std::snprintf(line, sizeof line,
                  "verified %lld steps (applied gradients against autograd, AdamW update against torch::optim::AdamW): "
                  "worst error/bound %.3f (%s)\n",
                  static_cast<long long>(tally.verified()), tally.worst_ratio(), tally.worst_row().c_str());
    out << line;
    j["verify"] = {{"steps_checked", tally.verified()}, {"worst_error_over_bound", tally.worst_ratio()}};
  }
  if (twin) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < a.steps; ++i) train::recurrent_twin_step(*twin, cfg);
    const double twin_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double twin_dev = train::recurrent_split_loss(twin->state.net, twin->state.val);
    std::snprintf(line, sizeof line,
                  "autograd twin (loss.backward(), torch::optim::AdamW): dev %.4f in %.1f s; manual - twin = %+.4f\n",
                  twin_dev, twin_seconds, dev - twin_dev);
    out << line;
    j["twin"] = {{"dev_loss", twin_dev}, {"seconds", twin_seconds}};
  }
  write_loss_files(a.out, s.losses, 100, err);
  if (!a.json.empty()) util::write_file_atomically(a.json, j.dump(2) + "\n");
  return kExitOk;
}

}  // namespace bpn::cli
