// bpninja train: Exercise 4, training with the hand-derived backward only.
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

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "models/gpt/train_run.h"
#include "models/wavenet/train_run.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "models/wavenet/trainer.h"
#include "util/atomic_file.h"
#include "util/errors.h"
#include "util/interrupt.h"
#include "util/malloc_tuning.h"
#include "util/threads.h"

namespace bpn::cli {

namespace {

// --threads when it is not given: one for the MLP and the WaveNet, whose tensors are so small that a
// second thread only adds overhead (10,000 WaveNet steps, alternating: 8.3 s mean with one thread,
// 9.0 s with two); two for the GPT, where each Linear's dx and dW matmuls run side by side
// (util::run_both: ~4% on the benchmark). Every other op and product runs on one thread, so the
// weights are the same bit for bit at any thread count (docs/determinism.md; tests/determinism/).
std::int64_t default_threads_for_gpt() {
  return std::min<std::int64_t>(2, std::max(1u, std::thread::hardware_concurrency()));
}

struct TrainArgs {
  std::string data = "data/names.txt";
  std::int64_t steps = 200000;
  double lr = 0.1;
  double lr_decayed = 0.01;
  std::int64_t decay_step = 100000;
  std::int64_t n_hidden = 200;
  std::int64_t batch_size = 32;
  std::string seed = std::to_string(model::kNotebookSeed);
  std::string dtype = "float32";
  std::int64_t verify_every = 0;
  std::int64_t checkpoint_every = 10000;
  std::int64_t threads = 1;
  std::string out;
  std::string json;
  std::string resume;
  std::vector<std::string> model_options_given;  // options that a resume takes from the checkpoint
  std::string arch = "mlp";
  std::vector<std::string> given;                     // every option given, by name
  std::int64_t n_layer = 4, n_head = 4, n_embd = 64;  // --arch gpt
  bool twin = false;
  std::string path = "auto";  // --path kernel|ops (the MLP)
  std::string mutant;         // --mutant NAME (--arch wavenet|gpt)
};

void require_learning_rate(const std::string& option, double lr) {
  if (!std::isfinite(lr) || lr <= 0.0) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", lr);
    throw InputError(option + " must be a positive finite number (got " + value + ")");
  }
}

train::TrainConfig config_from(const TrainArgs& a) {
  train::TrainConfig c;
  require_range("--n-hidden", a.n_hidden, 1, 4096);
  require_batch_size(a.batch_size);
  require_learning_rate("--lr", a.lr);
  require_learning_rate("--lr-decayed", a.lr_decayed);
  require_range("--decay-step", a.decay_step, 0, std::int64_t{1} << 40);
  c.n_hidden = a.n_hidden;
  c.batch_size = a.batch_size;
  c.seed = parse_seed("--seed", a.seed);
  c.lr = a.lr;
  c.lr_decayed = a.lr_decayed;
  c.decay_step = a.decay_step;
  c.dtype = parse_dtype(a.dtype);
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
  c.state = {state.params, state.g.clone(), state.step, state.losses};
  c.bn = bn;
  return c;
}

int run_wavenet(const TrainArgs& a, std::ostream& out, std::ostream& err) {
  if (std::find(a.given.begin(), a.given.end(), "--path") != a.given.end()) {
    throw InputError("--path is for the MLP (its training kernel); leave it out for --arch wavenet");
  }
  if (std::find(a.given.begin(), a.given.end(), "--dtype") != a.given.end()) {
    throw InputError(
        "--dtype is not available for --arch wavenet (it trains in float32, as the lecture); leave it out");
  }
  auto given = [&](const char* name) { return std::find(a.given.begin(), a.given.end(), name) != a.given.end(); };
  require_range("--steps", a.steps, 0, std::int64_t{1} << 40);
  require_range("--verify-every", a.verify_every, 0, std::int64_t{1} << 40);
  require_range("--threads", a.threads, 1, 256);
  require_range("--n-hidden", a.n_hidden, 1, 4096);
  require_batch_size(a.batch_size);
  require_learning_rate("--lr", a.lr);
  require_learning_rate("--lr-decayed", a.lr_decayed);
  WaveNetTrainArgs w;
  w.data = a.data;
  w.steps = a.steps;
  w.lr = a.lr;
  w.lr_decayed = a.lr_decayed;
  w.decay_step = given("--decay-step") ? a.decay_step : 150000;
  w.n_hidden = given("--n-hidden") ? a.n_hidden : 128;
  w.batch_size = a.batch_size;
  w.seed = given("--seed") ? parse_seed("--seed", a.seed) : 42;
  w.verify_every = a.verify_every;
  w.threads = a.threads;
  w.out = a.out;
  w.json = a.json;
  w.resume = a.resume;
  require_range("--checkpoint-every", a.checkpoint_every, 1, std::int64_t{1} << 40);
  w.checkpoint_every = a.checkpoint_every;
  w.mutant = a.mutant;
  if (!a.resume.empty()) {
    for (const char* option : {"--lr", "--lr-decayed", "--decay-step", "--n-hidden", "--batch-size", "--seed"}) {
      if (given(option)) {
        throw InputError(std::string(option) +
                         " cannot be combined with --resume: the model, data order and "
                         "learning rates come from the checkpoint");
      }
    }
  }
  return run_wavenet_train(w, out, err);
}

int run_gpt(const TrainArgs& a, std::ostream& out, std::ostream& err) {
  auto given = [&](const char* name) { return std::find(a.given.begin(), a.given.end(), name) != a.given.end(); };
  for (const char* unsupported : {"--dtype", "--lr-decayed", "--decay-step", "--n-hidden"}) {
    if (given(unsupported)) {
      throw InputError(std::string(unsupported) +
                       " is not available for --arch gpt (float32, AdamW with a constant lr); leave it out");
    }
  }
  if (!a.resume.empty()) {
    for (const char* option : {"--lr", "--n-layer", "--n-head", "--n-embd", "--batch-size", "--seed"}) {
      if (given(option)) {
        throw InputError(std::string(option) +
                         " cannot be combined with --resume: the model, data order and AdamW come from the checkpoint");
      }
    }
  }
  require_range("--checkpoint-every", a.checkpoint_every, 1, std::int64_t{1} << 40);
  require_range("--steps", a.steps, 0, std::int64_t{1} << 40);
  require_range("--verify-every", a.verify_every, 0, std::int64_t{1} << 40);
  require_range("--threads", a.threads, 1, 256);
  require_range("--n-layer", a.n_layer, 1, 48);
  require_range("--n-head", a.n_head, 1, 64);
  require_range("--n-embd", a.n_embd, 1, 4096);
  require_range("--batch-size", a.batch_size, 1, 1 << 20);
  GPTTrainArgs g;
  g.data = a.data;
  g.steps = given("--steps") ? a.steps : 5000;
  g.n_layer = a.n_layer;
  g.n_head = a.n_head;
  g.n_embd = a.n_embd;
  g.batch_size = a.batch_size;
  g.seed = given("--seed") ? parse_seed("--seed", a.seed) : 42;
  g.lr = given("--lr") ? a.lr : 5e-4;
  if (given("--lr")) require_learning_rate("--lr", a.lr);
  g.verify_every = a.verify_every;
  g.threads = given("--threads") ? a.threads : default_threads_for_gpt();
  g.twin = a.twin;
  g.out = a.out;
  g.json = a.json;
  g.resume = a.resume;
  g.checkpoint_every = given("--checkpoint-every") ? a.checkpoint_every : 1000;
  g.mutant = a.mutant;
  return run_gpt_train(g, out, err);
}

int run_train_command(const TrainArgs& a, std::ostream& out, std::ostream& err) {
  const std::string resumed = a.resume.empty() ? "" : train::checkpoint_arch(a.resume);
  if (a.arch == "gpt" || resumed == "gpt") return run_gpt(a, out, err);
  if (a.twin || std::find(a.given.begin(), a.given.end(), "--n-layer") != a.given.end()) {
    throw InputError("--twin, --n-layer, --n-head and --n-embd are for --arch gpt");
  }
  if (a.arch == "wavenet" || resumed == "wavenet") {
    return run_wavenet(a, out, err);
  }
  if (a.arch != "mlp") throw InputError("--arch must be mlp, wavenet or gpt (got '" + a.arch + "')");
  if (!a.mutant.empty()) throw InputError("--mutant is for --arch wavenet and --arch gpt (their layer table)");
  require_range("--steps", a.steps, 0, std::int64_t{1} << 40);
  require_range("--verify-every", a.verify_every, 0, std::int64_t{1} << 40);
  require_range("--checkpoint-every", a.checkpoint_every, 1, std::int64_t{1} << 40);
  require_range("--threads", a.threads, 1, 256);
  train::TrainConfig cfg = config_from(a);
  if (!a.resume.empty() && !a.model_options_given.empty()) {
    throw InputError(a.model_options_given.front() +
                     " cannot be combined with --resume: the model, data order and "
                     "learning rates come from the checkpoint");
  }
  prepare_outputs(a.out, train::kSafetensorsCheckpointFile, a.json);

  const data::Dataset data = data::load_dataset(a.data, /*block_size=*/3);
  util::keep_freed_memory_for_reuse();
  util::set_training_threads(static_cast<int>(a.threads));
  train::TrainState state;
  if (!a.resume.empty()) {
    train::Checkpoint c = train::load_checkpoint(a.resume);
    if (c.vocab != data.vocab.itos || c.block_size != data.block_size || c.train_rows != data.train.rows()) {
      throw InputError("--resume " + a.resume + ": the checkpoint was trained on other data than " + a.data +
                       " (vocabulary or split differs); pass the same --data");
    }
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
  // Ctrl-C / SIGTERM from here on: finish the step, checkpoint, say how to resume. Installed before the
  // first checkpoint, so that a signal that arrives once a checkpoint exists is always handled.
  util::StopOnSignal stop;
  if (a.resume.empty()) save({});  // a good checkpoint exists before the first step

  const bool tty = &out == &std::cout && ::isatty(STDOUT_FILENO);
  const std::int64_t first_step = state.step;
  Progress progress(out, tty, first_step, a.steps);
  double verify_worst_ratio = 0.0;
  std::string verify_worst_row;
  std::int64_t verified = 0;
  while (state.step < a.steps && !stop.requested()) {
    const std::int64_t step = state.step;
    const bool verify_now = a.verify_every > 0 && step % a.verify_every == 0;
    verify::StepRecord record;
    const float loss =
        step_kernel
            ? train::kernel_step(state, cfg, data.train, *step_kernel, verify_now ? &record : nullptr)
            : train::manual_step(state, cfg, data.train, {}, model::hand_derived(), verify_now ? &record : nullptr);
    if (verify_now) {
      const train::StepCheck check = train::check_step(record);
      if (check.worst_ratio > verify_worst_ratio || verified == 0) {
        verify_worst_ratio = check.worst_ratio;
        verify_worst_row = check.worst_row;
      }
      ++verified;
      if (!check.pass) {
        throw train::TrainingFailure("--verify-every: at step " + std::to_string(step) +
                                     " the step is not what autograd computes: " + check.detail);
      }
    }
    guard.check_loss(loss, step, cfg.lr_at(step));
    if (state.step % a.checkpoint_every == 0 && state.step < a.steps) save({});  // for --resume
    progress.update(state.step, state.losses);
  }
  if (stop.requested()) {
    save({});
    if (tty) out << "\n";
    out << interrupted_line(stop.signal_name(), state.step, a.steps, a.out, a.data) << std::flush;
    return stop.exit_status();
  }
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
  std::snprintf(line, sizeof line, "train %.4f | dev %.4f | test %.4f  (the lecture: train 2.0705, val 2.1099)\n",
                train_loss, dev_loss, test_loss);
  out << line;
  std::snprintf(line, sizeof line, "%lld steps in %.1f s (%.0f steps/s)%s\n",
                static_cast<long long>(a.steps - first_step), seconds,
                seconds > 0 ? static_cast<double>(a.steps - first_step) / seconds : 0.0,
                a.out.empty() ? "" : (", checkpoint and loss curve in " + a.out).c_str());
  out << line;
  if (verified > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.3f", verify_worst_ratio);
    out << "verified " << verified << " steps (forward loops, applied gradients, update) against autograd: worst "
        << "error/bound " << ratio << " (" << verify_worst_row << ")\n";
  }
  if (!a.json.empty()) {
    nlohmann::json j = {{"train_loss", train_loss},
                        {"dev_loss", dev_loss},
                        {"test_loss", test_loss},
                        {"steps", a.steps},
                        {"seconds", seconds},
                        {"config", cfg.to_json()},
                        {"path", step_kernel ? "kernel" : "ops"}};
    if (verified > 0) {
      j["verify"] = {
          {"steps_checked", verified}, {"worst_error_over_bound", verify_worst_ratio}, {"worst_row", verify_worst_row}};
    }
    util::write_file_atomically(a.json, j.dump(2) + "\n");
  }
  return kExitOk;
}

}  // namespace

void add_train_command(CLI::App& app, std::function<int()>& action, std::ostream& out, std::ostream& err) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train the MLP with the hand-derived backward pass only (Exercise 4)");
  cmd->add_option("--data", a->data, "Word list, one word per line")->capture_default_str();
  cmd->add_option("--steps", a->steps, "Total number of steps")->capture_default_str();
  cmd->add_option("--arch", a->arch,
                  "mlp; wavenet (makemore part 5: seed 42, n_hidden 128, decay at 150000); gpt (makemore's "
                  "Transformer: AdamW lr 5e-4, 5000 steps by default)")
      ->capture_default_str();
  cmd->add_option("--n-layer", a->n_layer, "--arch gpt: blocks")->capture_default_str();
  cmd->add_option("--n-head", a->n_head, "--arch gpt: attention heads")->capture_default_str();
  cmd->add_option("--n-embd", a->n_embd, "--arch gpt: channels")->capture_default_str();
  cmd->add_flag("--twin", a->twin, "--arch gpt: also train the autograd twin (torch::optim::AdamW) and compare");
  std::vector<CLI::Option*> model_options = {
      cmd->add_option("--lr", a->lr, "Learning rate before --decay-step")->capture_default_str(),
      cmd->add_option("--lr-decayed", a->lr_decayed, "Learning rate from --decay-step on")->capture_default_str(),
      cmd->add_option("--decay-step", a->decay_step, "Step at which the learning rate drops")->capture_default_str(),
      cmd->add_option("--n-hidden", a->n_hidden, "Hidden units (1..4096)")->capture_default_str(),
      cmd->add_option("--batch-size", a->batch_size, "Batch size (2..1048576)")->capture_default_str(),
      cmd->add_option("--seed", a->seed, "Seed of generator g (init and batches); bngain/bnbias use seed+1")
          ->capture_default_str(),
      cmd->add_option("--dtype", a->dtype, "float32 or float64")->capture_default_str()};
  cmd->add_option("--path", a->path,
                  "The MLP's step: kernel (raw memory, float32, the default) or ops (the tensor-op reference)");
  cmd->add_option("--verify-every", a->verify_every,
                  "Every K steps, check what the step did against autograd: loop forward, applied gradients, update")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Write the checkpoint every K steps (with --out)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads,
                  "Threads (1..256); default 1, and 2 (or the cores there are) for gpt; "
                  "results do not depend on it (README, Speed)")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Directory for the checkpoint, loss.csv and loss.png");
  cmd->add_option("--json", a->json, "Write train/dev/test loss, steps and seconds as JSON");
  cmd->add_option("--resume", a->resume, "Continue the run saved in this directory");
  cmd->add_option("--mutant", a->mutant,
                  "--arch wavenet|gpt: inject the catalog's mutant of this name (`bpninja mutants`) into the "
                  "layer table, to see --verify-every catch it");
  cmd->callback([a, cmd, model_options, &action, &out, &err] {
    a->given.clear();
    for (const auto* o : cmd->get_options()) {
      if (o->count() > 0) a->given.push_back(o->get_name());
    }
    a->model_options_given.clear();
    for (const auto* o : model_options) {
      if (o->count() > 0) a->model_options_given.push_back(o->get_name());
    }
    action = [a, &out, &err] {
      try {
        return run_train_command(*a, out, err);
      } catch (const train::TrainingFailure& e) {
        err << "bpninja: training failed: " << e.what() << "\n";
        return kExitCheckFailed;
      }
    };
  });
}

}  // namespace bpn::cli
