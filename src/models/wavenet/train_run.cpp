#include "models/wavenet/train_run.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "models/options.h"
#include "models/wavenet/model.h"
#include "models/wavenet/trainer.h"
#include "train/run.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "util/interrupt.h"
#include "util/malloc_tuning.h"
#include "util/threads.h"

namespace bpn::cli {

int run_wavenet_train(const WaveNetTrainArgs& a, std::ostream& out, std::ostream& err) {
  // --mutant: looked up before anything is written (an unknown name is bad input)
  const layers::BackwardTable mutated =
      a.mutant.empty()
          ? layers::hand_derived()
          : verify::mutated(models::mutant_named(models::wavenet_model(), a.mutant), layers::hand_derived());
  const OutputDirectories outputs = prepare_outputs(a.out, train::kSafetensorsCheckpointFile, a.json);
  const data::Dataset data = data::load_dataset(a.data, /*block_size=*/8);
  util::keep_freed_memory_for_reuse();
  util::set_training_threads(static_cast<int>(a.threads));
  train::WaveNetTrainConfig cfg;
  cfg.model.n_hidden = a.n_hidden;
  cfg.model.seed = a.seed;
  cfg.batch_size = a.batch_size;
  cfg.lr = a.lr;
  cfg.lr_decayed = a.lr_decayed;
  cfg.decay_step = a.decay_step;
  train::WaveNetState s;
  if (!a.resume.empty()) {
    train::WaveNetCheckpoint c = train::load_wavenet_checkpoint(a.resume);
    train::require_same_data(a.resume, a.data, c.vocab == data.vocab.itos && c.train_rows == data.train.rows(),
                             c.data_fingerprint, data);
    if (a.steps < c.state.step) {
      throw InputError("--steps " + std::to_string(a.steps) + " is less than the checkpoint's step " +
                       std::to_string(c.state.step) + "; --steps is the total length of the run");
    }
    cfg = c.config;
    s = std::move(c.state);
    out << "resuming from step " << s.step << "\n";
  } else {
    s = train::init_wavenet(cfg, data);
    cfg.model = s.net.config;  // the sizes the data gave (vocab_size, block_size), for the report and the save
  }
  s.losses.reserve(static_cast<std::size_t>(a.steps));
  if (!a.mutant.empty()) {
    s.net.set_table(&mutated);
    out << "mutant injected: " << a.mutant << "\n";
  }
  out << "WaveNet: " << s.net.numel() << " parameters\n";
  train::RunGuard guard(a.out, a.resume, a.resume.empty() ? -1 : s.step);
  auto save = [&] {
    guard.save(s.step, s.net.parameters(), [&] { train::save_wavenet_checkpoint(a.out, s, cfg, data); });
  };
  require_a_verified_step(a.verify_every, s.step, a.steps);
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t first_step = s.step;
  train::VerifyTally tally("the applied gradients or the update are not what autograd and the optimizer compute");
  train::StepLoop loop;
  loop.first = first_step;
  loop.steps = a.steps;
  loop.verify_every = a.verify_every;
  loop.checkpoint_every = a.checkpoint_every;
  loop.fresh = a.resume.empty();
  loop.out_dir = a.out;
  loop.data = a.data;
  loop.step = [&](std::int64_t step, bool verify_now) {
    train::WaveNetInspect inspect;
    if (verify_now) {
      inspect = [&](const train::WaveNetStep& done) { tally.record(step, train::check_wavenet_step(done)); };
    }
    return train::wavenet_manual_step(s, cfg, data.train, inspect);
  };
  loop.lr_at = [&](std::int64_t step) { return cfg.lr_at(step); };
  loop.save = save;
  loop.after = [&](std::int64_t step, float loss) {
    if (step % 10000 == 0) {  // the lecture's print: f'{i:7d}/{max_steps:7d}: {loss.item():.4f}'
      char line[64];
      std::snprintf(line, sizeof line, "%7lld/%7lld: %.4f\n", static_cast<long long>(step),
                    static_cast<long long>(a.steps), loss);
      out << line << std::flush;
    }
  };
  if (const std::optional<int> interrupted = train::run_step_loop(loop, guard, out)) return *interrupted;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  save();
  const double train_loss = train::wavenet_split_loss(s.net, data.train);
  const double val_loss = train::wavenet_split_loss(s.net, data.dev);
  char line[256];
  std::snprintf(line, sizeof line, "train %.4f | val %.4f%s\n", train_loss, val_loss,
                data::is_names_txt(data) ? "  (the lecture: train 1.7690, val 1.9937)" : "");
  out << line;
  std::snprintf(line, sizeof line, "%lld steps in %.1f s (%.0f steps/s)\n",
                static_cast<long long>(a.steps - first_step), seconds,
                seconds > 0 ? static_cast<double>(a.steps - first_step) / seconds : 0.0);
  out << line;
  if (tally.verified() > 0) {
    std::snprintf(
        line, sizeof line,
        "verified %lld steps (applied gradients and SGD update) against autograd: worst error/bound %.3f (%s)\n",
        static_cast<long long>(tally.verified()), tally.worst_ratio(), tally.worst_row().c_str());
    out << line;
  }
  write_loss_files(a.out, s.losses, 1000, err);
  if (!a.json.empty()) {
    nlohmann::json j = {
        {"arch", "wavenet"},  {"train_loss", train_loss},    {"val_loss", val_loss},         {"steps", a.steps},
        {"seconds", seconds}, {"parameters", s.net.numel()}, {"config", cfg.model.to_json()}};
    if (tally.verified() > 0) {
      j["verify"] = {{"steps_checked", tally.verified()}, {"worst_error_over_bound", tally.worst_ratio()}};
    }
    util::write_file_atomically(a.json, j.dump(2) + "\n");
  }
  return kExitOk;
}

}  // namespace bpn::cli
