#include "verify/verdict.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace bpn::verify {

double unit_roundoff(at::ScalarType dtype) { return dtype == at::kDouble ? kUnitRoundoff64 : kUnitRoundoff32; }

namespace {
// max |a - b| in float64; NaN when either holds a NaN (or an inf that does not cancel).
double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  const at::Tensor d = (a.detach().to(at::kCPU, at::kDouble) - b.detach().to(at::kCPU, at::kDouble)).abs();
  if (at::isnan(d).any().item<bool>()) return std::numeric_limits<double>::quiet_NaN();
  return d.max().item<double>();
}
double max_abs(const at::Tensor& a) {
  if (a.numel() == 0) return 0.0;
  return a.detach().to(at::kCPU, at::kDouble).abs().max().item<double>();
}
}  // namespace

Accuracy judge_accuracy(const at::Tensor& manual, const at::Tensor& ref64, const at::Tensor& autograd32,
                        double noise_scale) {
  Accuracy a;
  if (!manual.defined() || !ref64.defined() || !autograd32.defined()) return a;
  if (manual.sizes() != ref64.sizes() || manual.sizes() != autograd32.sizes()) return a;
  a.judged = true;
  const double u = unit_roundoff(manual.scalar_type());
  a.error = max_abs_diff(manual, ref64);
  a.autograd_error = max_abs_diff(autograd32, ref64);
  a.scale = std::max(max_abs(ref64), noise_scale);
  a.bound = kNoiseFactor * (u / kUnitRoundoff32) * a.autograd_error + kFloorUlps * u * a.scale;
  a.pass = std::isfinite(a.error) && std::isfinite(a.bound) && a.error <= a.bound;
  return a;
}

std::string Accuracy::describe() const {
  if (!judged) return "accuracy not judged (a reference is missing or has another shape)";
  char buf[256];
  std::snprintf(buf, sizeof buf, "error %.3g %s bound %.3g (float32 autograd's error %.3g, scale %.3g)", error,
                pass ? "<=" : "exceeds", bound, autograd_error, scale);
  return buf;
}

double sum_noise_scale(const at::Tensor& terms, std::int64_t dim) {
  return static_cast<double>(terms.size(dim)) * terms.detach().to(at::kDouble).abs().sum({dim}).max().item<double>();
}

Row make_row(const std::string& name, const at::Tensor& manual, const Reference& ref,
             std::optional<double> maxdiff_goal) {
  Row row;
  row.cmp = compare(name, manual, ref.run);
  row.accuracy = judge_accuracy(manual, ref.f64, ref.f32, ref.noise_scale);
  row.maxdiff_goal = maxdiff_goal;
  return row;
}

void judge(Row& row, bool expect_exact) {
  const auto& c = row.cmp;
  row.expect_exact = expect_exact;
  std::vector<std::string> failures;
  if (!c.problem.empty()) failures.push_back(c.problem);
  if (c.problem.empty() && expect_exact && !c.exact)
    failures.push_back("recorded exact in the ledger, no longer bit-equal");
  if (c.problem.empty() && !row.accuracy.pass)
    failures.push_back("less accurate than autograd: " + row.accuracy.describe());
  if (row.maxdiff_goal && !(c.maxdiff <= *row.maxdiff_goal)) {
    char goal[64];
    std::snprintf(goal, sizeof goal, "maxdiff above the lecture's goal %.0e", *row.maxdiff_goal);
    failures.push_back(goal);
  }
  row.pass = failures.empty();
  row.note.clear();
  for (const auto& f : failures) row.note += (row.note.empty() ? "" : "; ") + f;
}

}  // namespace bpn::verify
