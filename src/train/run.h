// What every training run shares, whatever the model: the verdict on a verified step
// (--verify-every), the loss curve, and the guard around the steps (finite checkpoints, one-line
// failures).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "verify/verdict.h"

namespace bpn::train {

// --verify-every: what a recorded step applied, judged by the verdict rule (verify/verdict.h): every
// applied gradient against autograd of the same parameters and batch (float32 runs against float64
// autograd, bounded by float32 autograd's own error) and the update against its reference. See
// docs/verdict.md "The verdict rule".
struct StepCheck {
  bool pass = true;
  double worst_ratio = 0.0;  // the largest error / bound over the rows (< 1 when everything holds)
  std::string worst_row;
  std::string detail;             // the failing rows, described
  std::vector<verify::Row> rows;  // every row, judged
};
// Judges rows by the verdict rule (no ledger) and summarises them (the WaveNet's and GPT's checks too).
StepCheck summarize(std::vector<verify::Row> rows);

// log10 of the loss averaged per `chunk` steps, as the notebook plots it. A final partial chunk is
// averaged over the steps it has.
struct CurvePoint {
  std::int64_t first_step;
  std::int64_t last_step;
  double mean_log10_loss;
};
std::vector<CurvePoint> loss_curve(const std::vector<float>& losses, std::int64_t chunk = 1000);

// Before an update: "" when every parameter has a gradient (matched by name) of its shape, else a
// one-line description of the first that does not ("dW2 has shape [27, 64], W2 [64, 27]"). The callers
// (every model's step) then leave the parameters as they are, so the verdict reports the shape instead
// of LibTorch throwing in the update.
std::string gradient_shape_problem(const std::vector<std::pair<std::string, at::Tensor>>& params,
                                   const std::vector<std::pair<std::string, at::Tensor>>& grads);

// A training run that went wrong: a NaN/Inf loss or a failed --verify-every check (exit 1).
class TrainingFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the three training commands (MLP, WaveNet, GPT) do around their steps, in one place: a
// checkpoint is written only when every parameter is finite, the last good one is remembered (the one
// a run resumed from, until it writes its own), and a run that goes non-finite stops with one line that
// names the step, the learning rate of the last step, where the last good checkpoint is and what to
// do, e.g. "the loss became NaN at step 1 (lr 1e+25); the last good checkpoint, step 1, is in runs/x;
// lower --lr".
class RunGuard {
 public:
  // out_dir: --out (empty: no checkpoints). resumed_dir / resumed_step: the checkpoint --resume read.
  explicit RunGuard(std::string out_dir, std::string resumed_dir = "", std::int64_t resumed_step = -1)
      : out_dir_(std::move(out_dir)), last_dir_(std::move(resumed_dir)), last_saved_(resumed_step) {}
  // With an --out directory: throws TrainingFailure unless every parameter is finite (an update after a
  // finite loss can still overflow them), then calls write() and remembers `step`. Without, nothing.
  template <typename Write>
  void save(std::int64_t step, const std::vector<std::pair<std::string, at::Tensor*>>& parameters, Write&& write) {
    if (out_dir_.empty()) return;
    require_finite(step, parameters);
    write();
    last_dir_ = out_dir_;
    last_saved_ = step;
  }
  // After each step: throws TrainingFailure if `loss` (of the step `step`, taken with learning rate
  // `lr`) is NaN or Inf; remembers lr for the message of a later overflow of the parameters.
  void check_loss(float loss, std::int64_t step, double lr);
  // "the last good checkpoint, step N, is in DIR" or "no checkpoint was written (use --out DIR)"
  std::string where_last_good() const;

 private:
  void require_finite(std::int64_t step, const std::vector<std::pair<std::string, at::Tensor*>>& parameters) const;
  std::string lr_text() const;  // "lr X" after a step, else ""
  std::string out_dir_, last_dir_;
  std::int64_t last_saved_ = -1;
  bool have_lr_ = false;  // set by the first check_loss
  double last_lr_ = 0.0;
};

// --verify-every's tally over a run: how many steps were verified, the worst error/bound and where.
class VerifyTally {
 public:
  // what: what a failure says is wrong, "the step is not what autograd computes"
  explicit VerifyTally(std::string what) : what_(std::move(what)) {}
  // Counts the verified step; throws TrainingFailure "--verify-every: at step N <what>: <rows>" when it fails.
  void record(std::int64_t step, const StepCheck& check);
  std::int64_t verified() const { return verified_; }
  double worst_ratio() const { return worst_ratio_; }
  const std::string& worst_row() const { return worst_row_; }

 private:
  std::string what_;
  std::int64_t verified_ = 0;
  double worst_ratio_ = 0.0;
  std::string worst_row_;
};

// The loop every training run shares: steps `first` .. `steps`-1, each run by step(k, verify_now),
// which returns its loss (verify_now every `verify_every` steps); the loss checked by the guard
// (lr_at(k)); a checkpoint before the first step of a fresh run and every `checkpoint_every` steps
// (before the last: the run saves its final state itself); after(k, loss) after each step (progress).
// Ctrl-C / SIGTERM, handled from before the first checkpoint on: the step finishes, the run saves and
// prints `before_interrupt` and the one line that says how to resume; the exit status is returned.
// nullopt when every step ran.
struct StepLoop {
  std::int64_t first = 0, steps = 0, verify_every = 0, checkpoint_every = 1;
  bool fresh = true;             // not resumed: save before the first step
  std::string out_dir, data;     // --out and --data, for the line that says how to resume
  std::string before_interrupt;  // e.g. the newline that ends a progress bar
  std::function<float(std::int64_t step, bool verify_now)> step;
  std::function<double(std::int64_t step)> lr_at;
  std::function<void()> save;
  std::function<void(std::int64_t step, float loss)> after;
};
std::optional<int> run_step_loop(const StepLoop& loop, RunGuard& guard, std::ostream& out);

// The one line a training run prints when SIGINT or SIGTERM stopped it after `step` of `steps`: where
// the checkpoint is and the exact command that continues the run (or that nothing was saved).
std::string interrupted_line(const std::string& signal_name, std::int64_t step, std::int64_t steps,
                             const std::string& out_dir, const std::string& data);

}  // namespace bpn::train
