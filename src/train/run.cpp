#include "train/run.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "util/interrupt.h"
#include "verify/verdict.h"

namespace bpn::train {

StepCheck summarize(std::vector<verify::Row> rows) {
  StepCheck out;
  if (rows.empty()) {  // nothing compared is no evidence
    out.pass = false;
    out.detail = "no gradient was compared";
    return out;
  }
  const int kRowsNamed = 3;  // a failure names the first few rows (the forward order: where a bug enters last)
  int failed = 0;
  for (verify::Row& row : rows) {
    verify::judge(row, /*expect_exact=*/false);
    const double ratio =
        row.accuracy.bound > 0 ? row.accuracy.error / row.accuracy.bound : (row.accuracy.error == 0 ? 0.0 : INFINITY);
    if (!(ratio <= out.worst_ratio)) {
      out.worst_ratio = ratio;
      out.worst_row = row.cmp.name;
    }
    if (!row.pass) {
      out.pass = false;
      if (++failed <= kRowsNamed) out.detail += (out.detail.empty() ? "" : "; ") + row.cmp.name + ": " + row.note;
    }
  }
  if (failed > kRowsNamed) out.detail += "; and " + std::to_string(failed - kRowsNamed) + " more rows";
  out.rows = std::move(rows);
  return out;
}

std::vector<CurvePoint> loss_curve(const std::vector<float>& losses, std::int64_t chunk) {
  std::vector<CurvePoint> curve;
  const auto count = static_cast<std::int64_t>(losses.size());
  for (std::int64_t start = 0; start < count; start += chunk) {
    const std::int64_t end = std::min(count, start + chunk);
    double sum = 0.0;
    for (std::int64_t i = start; i < end; ++i)
      sum += std::log10(static_cast<double>(losses[static_cast<std::size_t>(i)]));
    curve.push_back({start, end - 1, sum / static_cast<double>(end - start)});
  }
  return curve;
}

void RunGuard::require_finite(std::int64_t step,
                              const std::vector<std::pair<std::string, at::Tensor*>>& parameters) const {
  for (const auto& [name, p] : parameters) {
    if (!at::isfinite(*p).all().item<bool>()) {
      const std::string lr = lr_text();
      throw TrainingFailure("the parameters became Inf or NaN by step " + std::to_string(step) + " (" + name +
                            (lr.empty() ? "" : ", " + lr) + "); " + where_last_good() + "; lower --lr");
    }
  }
}

void RunGuard::check_loss(float loss, std::int64_t step, double lr) {
  have_lr_ = true;
  last_lr_ = lr;
  if (std::isfinite(loss)) return;
  throw TrainingFailure("the loss became " + std::string(std::isnan(loss) ? "NaN" : "Inf") + " at step " +
                        std::to_string(step) + " (" + lr_text() + "); " + where_last_good() + "; lower --lr");
}

std::string RunGuard::lr_text() const {
  if (!have_lr_) return "";
  char rate[40];
  std::snprintf(rate, sizeof rate, "lr %g", last_lr_);
  return rate;
}

std::string RunGuard::where_last_good() const {
  return last_saved_ >= 0 ? "the last good checkpoint, step " + std::to_string(last_saved_) + ", is in " + last_dir_
                          : std::string("no checkpoint was written (use --out DIR)");
}

std::string gradient_shape_problem(const std::vector<std::pair<std::string, at::Tensor>>& params,
                                   const std::vector<std::pair<std::string, at::Tensor>>& grads) {
  auto shape = [](const at::Tensor& t) {
    std::ostringstream os;
    os << t.sizes();
    return os.str();
  };
  const std::map<std::string, at::Tensor> by_name(grads.begin(), grads.end());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& p = params[i].second;
    const auto it = by_name.find(params[i].first);
    const at::Tensor g = it == by_name.end() ? at::Tensor() : it->second;
    if (!g.defined()) return "d" + params[i].first + " is missing";
    if (g.sizes() != p.sizes())
      return "d" + params[i].first + " has shape " + shape(g) + ", " + params[i].first + " " + shape(p);
  }
  return "";
}

void VerifyTally::record(std::int64_t step, const StepCheck& check) {
  if (check.worst_ratio > worst_ratio_ || verified_ == 0) {
    worst_ratio_ = check.worst_ratio;
    worst_row_ = check.worst_row;
  }
  ++verified_;
  if (!check.pass) {
    throw TrainingFailure("--verify-every: at step " + std::to_string(step) + " " + what_ + ": " + check.detail);
  }
}

std::optional<int> run_step_loop(const StepLoop& loop, RunGuard& guard, std::ostream& out) {
  // Installed before the first checkpoint, so that a signal that arrives once a checkpoint exists is
  // always handled.
  util::StopOnSignal stop;
  if (loop.fresh) loop.save();  // a good checkpoint exists before the first step
  std::int64_t step = loop.first;
  for (; step < loop.steps && !stop.requested(); ++step) {
    const bool verify_now = loop.verify_every > 0 && step % loop.verify_every == 0;
    const float loss = loop.step(step, verify_now);
    guard.check_loss(loss, step, loop.lr_at(step));
    if ((step + 1) % loop.checkpoint_every == 0 && step + 1 < loop.steps) loop.save();  // for --resume
    if (loop.after) loop.after(step, loss);
  }
  if (!stop.requested()) return std::nullopt;
  loop.save();
  out << loop.before_interrupt << interrupted_line(stop.signal_name(), step, loop.steps, loop.out_dir, loop.data)
      << std::flush;
  return stop.exit_status();
}

namespace {
// A path as the shell reads it back: as is when it has only safe characters, else in single quotes.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+:,@") ==
                        std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

std::string interrupted_line(const std::string& signal_name, std::int64_t step, std::int64_t steps,
                             const std::string& out_dir, const std::string& data) {
  const std::string head =
      "interrupted by " + signal_name + " after step " + std::to_string(step) + " of " + std::to_string(steps);
  if (out_dir.empty()) return head + "; nothing was saved (no --out): rerun with --out DIR to make a run resumable\n";
  return head + "; checkpoint written to " + out_dir + "; continue with: bpninja train --data " + shell_word(data) +
         " --resume " + shell_word(out_dir) + " --out " + shell_word(out_dir) + " --steps " + std::to_string(steps) +
         "\n";
}

}  // namespace bpn::train
