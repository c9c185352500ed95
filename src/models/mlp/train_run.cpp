// `bpninja train --arch mlp`: Exercise 4, training the lecture's MLP with the hand-derived backward only.
#include "models/mlp/train_run.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <ostream>
#include <thread>

#include "models/mlp/checkpoint.h"
#include "models/mlp/trainer.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "util/interrupt.h"
#include "util/malloc_tuning.h"
#include "util/threads.h"

namespace bpn::cli {

namespace {

train::TrainConfig config_from(const Options& o) {
  train::TrainConfig c;
  c.n_hidden = o.integer("--n-hidden", c.n_hidden);
  c.batch_size = o.integer("--batch-size", c.batch_size);
  c.lr = o.number("--lr", c.lr);
  c.lr_decayed = o.number("--lr-decayed", c.lr_decayed);
  c.decay_step = o.integer("--decay-step", c.decay_step);
  require_range("--n-hidden", c.n_hidden, 1, 4096);
  require_batch_size(c.batch_size);
  require_learning_rate("--lr", c.lr);
  require_learning_rate("--lr-decayed", c.lr_decayed);
  require_range("--decay-step", c.decay_step, 0, std::int64_t{1} << 40);
  c.seed = parse_seed("--seed", o.text("--seed", std::to_string(model::kNotebookSeed)));
  c.dtype = parse_dtype(o.text("--dtype", "float32"));
  return c;
}

// A progress bar on a terminal, a plain line every 10000 steps otherwise.
class Progress {
 public:
  Progress(std::ostream& out, bool tty, std::int64_t first, std::int64_t total)
      : out_(out), tty_(tty), first_(first), total_(total), start_(Clock::now()) {}

  void update(std::int64_t step, const std::vector<float>& losses) {  // step = steps done
    const bool line_due = step % 10000 == 0 || step == total_;
    if (!(tty_ ? (step % 250 == 0 || step == total_) : line_due)) return;
    const double elapsed = seconds();
    const double rate = elapsed > 0 ? static_cast<double>(step - first_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : 0.0;
    const std::size_t window = std::min<std::size_t>(losses.size(), 1000);
    double running = 0.0;
    for (std::size_t i = losses.size() - window; i < losses.size(); ++i) running += losses[i];
    running /= static_cast<double>(std::max<std::size_t>(window, 1));
    char line[200];
    if (tty_) {
      const int width = 30;
      const int filled = static_cast<int>(width * static_cast<double>(step) / static_cast<double>(total_));
      std::snprintf(line, sizeof line, "\r[%-*s] %lld/%lld | %.0f steps/s | ETA %.0fs | loss %.4f", width,
                    std::string(static_cast<std::size_t>(filled), '#').c_str(), static_cast<long long>(step),
                    static_cast<long long>(total_), rate, eta, running);
      out_ << line << (step == total_ ? "\n" : "") << std::flush;
    } else {
      std::snprintf(line, sizeof line, "step %7lld/%lld: loss %.4f (mean of last %zu), %.0f steps/s\n",
                    static_cast<long long>(step), static_cast<long long>(total_), running, window, rate);
      out_ << line << std::flush;
    }
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  bool tty_;
  std::int64_t first_, total_;
  Clock::time_point start_;
};

train::Checkpoint make_checkpoint(const train::TrainState& state, const train::TrainConfig& cfg,
                                  const data::Dataset& data, const train::BatchNormStats& bn) {
  train::Checkpoint c;
  c.config = cfg;
  c.vocab = data.vocab.itos;
  c.block_size = data.block_size;
  c.train_rows = data.train.rows();
  c.data_fingerprint = train::data_fingerprint(data);
  c.state = {state.params, state.g.clone(), state.step, state.losses};
  c.bn = bn;
  return c;
}

}  // namespace

int run_mlp_train(const Options& o, std::ostream& out, std::ostream& err) {
  MlpTrainArgs a;
  a.data = o.text("--data", "");
  a.steps = o.integer("--steps", a.steps);
  a.verify_every = o.integer("--verify-every", 0);
  a.checkpoint_every = o.integer("--checkpoint-every", a.checkpoint_every);
  a.threads = o.integer("--threads", 1);
  a.out = o.text("--out", "");
  a.json = o.text("--json", "");
  a.resume = o.text("--resume", "");
  a.path = o.text("--path", "auto");
  require_range("--steps", a.steps, 0, std::int64_t{1} << 40);
  require_range("--verify-every", a.verify_every, 0, std::int64_t{1} << 40);
  require_range("--checkpoint-every", a.checkpoint_every, 1, std::int64_t{1} << 40);
  require_range("--threads", a.threads, 1, 256);
  train::TrainConfig cfg = config_from(o);
  const std::vector<std::string> model_options = {"--lr",         "--lr-decayed", "--decay-step", "--n-hidden",
                                                  "--batch-size", "--seed",       "--dtype"};
  const auto given = std::find_if(model_options.begin(), model_options.end(), [&](auto& n) { return o.given(n); });
  if (!a.resume.empty() && given != model_options.end()) {
    throw InputError(*given +
                     " cannot be combined with --resume: the model, data order and "
                     "learning rates come from the checkpoint");
  }
  const OutputDirectories outputs = prepare_outputs(a.out, train::kSafetensorsCheckpointFile, a.json);

  const data::Dataset data = data::load_dataset(a.data, /*block_size=*/3);
  util::keep_freed_memory_for_reuse();
  util::set_training_threads(static_cast<int>(a.threads));
  train::TrainState state;
  if (!a.resume.empty()) {
    train::Checkpoint c = train::load_checkpoint(a.resume);
    train::require_same_data(
        a.resume, a.data,
        c.vocab == data.vocab.itos && c.block_size == data.block_size && c.train_rows == data.train.rows(),
        c.data_fingerprint, data);
    cfg = c.config;
    state = std::move(c.state);
    if (a.steps < state.step) {
      throw InputError("--steps " + std::to_string(a.steps) + " is less than the checkpoint's step " +
                       std::to_string(state.step) + "; --steps is the total length of the run");
    }
    out << "resuming from step " << state.step << "\n";
  } else {
    state = train::init_state(cfg, data);
  }
  state.losses.reserve(static_cast<std::size_t>(a.steps));
  // The raw-memory kernel (float32, CPU) unless --path ops asks for the tensor-op step.
  if (a.path != "auto" && a.path != "kernel" && a.path != "ops") {
    throw InputError("--path must be kernel or ops (got '" + a.path + "')");
  }
  const bool kernel_ok = cfg.dtype == at::kFloat;
  if (a.path == "kernel" && !kernel_ok) {
    throw InputError("--path kernel trains float32 only; leave out --path for a float64 run (it takes the ops path)");
  }
  std::unique_ptr<kernel::MlpStepKernel> step_kernel;
  if (a.path != "ops" && kernel_ok) step_kernel = std::make_unique<kernel::MlpStepKernel>(state.params, cfg.batch_size);

  train::RunGuard guard(a.out, a.resume, a.resume.empty() ? -1 : state.step);
  auto save = [&](const train::BatchNormStats& bn) {
    guard.save(state.step, state.params.named(),
               [&] { train::save_checkpoint(a.out, make_checkpoint(state, cfg, data, bn)); });
  };
  require_a_verified_step(a.verify_every, state.step, a.steps);
  const bool tty = &out == &std::cout && ::isatty(STDOUT_FILENO);
  const std::int64_t first_step = state.step;
  Progress progress(out, tty, first_step, a.steps);
  train::VerifyTally tally("the step is not what autograd computes");
  train::StepLoop loop;
  loop.first = first_step;
  loop.steps = a.steps;
  loop.verify_every = a.verify_every;
  loop.checkpoint_every = a.checkpoint_every;
  loop.fresh = a.resume.empty();
  loop.out_dir = a.out;
  loop.data = a.data;
  loop.before_interrupt = tty ? "\n" : "";
  loop.step = [&](std::int64_t step, bool verify_now) {
    verify::StepRecord record;
    const float loss =
        step_kernel
            ? train::kernel_step(state, cfg, data.train, *step_kernel, verify_now ? &record : nullptr)
            : train::manual_step(state, cfg, data.train, {}, model::hand_derived(), verify_now ? &record : nullptr);
    if (verify_now) tally.record(step, train::check_step(record));
    return loss;
  };
  loop.lr_at = [&](std::int64_t step) { return cfg.lr_at(step); };
  loop.save = [&] { save({}); };
  loop.after = [&](std::int64_t, float) { progress.update(state.step, state.losses); };
  if (const std::optional<int> interrupted = train::run_step_loop(loop, guard, out)) return *interrupted;
  const double seconds = progress.seconds();

  // The kernel path evaluates on raw memory too (kernel/mlp_eval.h); --path ops with tensor ops.
  const auto calibrate = step_kernel ? train::kernel_calibrate_batchnorm : train::calibrate_batchnorm;
  const auto split_loss = step_kernel ? train::kernel_split_loss : train::split_loss;
  const train::BatchNormStats bn = calibrate(state.params, data.train);
  const double train_loss = split_loss(state.params, bn, data.train);
  const double dev_loss = split_loss(state.params, bn, data.dev);
  const double test_loss = split_loss(state.params, bn, data.test);
  save(bn);
  write_loss_files(a.out, state.losses, 1000, err);

  char line[256];
  std::snprintf(line, sizeof line, "train %.4f | dev %.4f | test %.4f%s\n", train_loss, dev_loss, test_loss,
                data::is_names_txt(data) ? "  (the lecture: train 2.0705, val 2.1099)" : "");
  out << line;
  std::snprintf(line, sizeof line, "%lld steps in %.1f s (%.0f steps/s)%s\n",
                static_cast<long long>(a.steps - first_step), seconds,
                seconds > 0 ? static_cast<double>(a.steps - first_step) / seconds : 0.0,
                a.out.empty() ? "" : (", checkpoint and loss curve in " + a.out).c_str());
  out << line;
  if (tally.verified() > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.3f", tally.worst_ratio());
    out << "verified " << tally.verified()
        << " steps (forward loops, applied gradients, update) against autograd: worst "
        << "error/bound " << ratio << " (" << tally.worst_row() << ")\n";
  }
  if (!a.json.empty()) {
    nlohmann::json j = {{"train_loss", train_loss},
                        {"dev_loss", dev_loss},
                        {"test_loss", test_loss},
                        {"steps", a.steps},
                        {"seconds", seconds},
                        {"config", cfg.to_json()},
                        {"path", step_kernel ? "kernel" : "ops"}};
    // the sizes that come from the data, as the other models' reports give them
    j["config"]["vocab_size"] = static_cast<std::int64_t>(data.vocab.size());
    j["config"]["block_size"] = data.block_size;
    if (tally.verified() > 0) {
      j["verify"] = {{"steps_checked", tally.verified()},
                     {"worst_error_over_bound", tally.worst_ratio()},
                     {"worst_row", tally.worst_row()}};
    }
    util::write_file_atomically(a.json, j.dump(2) + "\n");
  }
  return kExitOk;
}

}  // namespace bpn::cli
