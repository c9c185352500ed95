// The verdict rule: one rule for every comparison the harness makes (check, the gtest helpers, the
// sweeps, train --verify-every, the mutation catalog). See docs/verdict.md "The verdict rule" and
// docs/derivations.md#the-verdict-rule for why each constant is what it is.
//
// A row passes when
//   1. its shape (and dtype) equals the reference's;
//   2. if the ledger records it as bit-exact for this environment, it still is;
//   3. it is as accurate as autograd:
//        error = max |manual - ref64|            ref64 = float64 autograd of the same inputs
//        noise = max |autograd32 - ref64|        float32 autograd's own error on these inputs
//        scale = max(max |ref64|, noise_scale)   noise_scale: given only for analytically-zero gradients
//        pass  iff error <= K * (u / u32) * noise + C * u * scale
//      with u the unit roundoff of the run's dtype (2^-24 for float32, 2^-53 for float64), K = 16, C = 64.
// In a float32 run the first term is "no worse than 16x autograd's own float32 error" and the second
// a floor of 64 ULPs of the tensor's scale. In a float64 run the first term is autograd's measured
// float32 error scaled down to float64 (rounding errors scale with u to first order): it captures the
// conditioning of the computation (BatchNorm at small batches cancels), without torch's float32-scale
// rtol; the floor is 64 float64 ULPs of the tensor's scale (1.4e-14 relative), so a bug of 1e-6
// relative size fails by eight orders of magnitude.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "verify/compare.h"

namespace bpn::verify {

inline constexpr double kUnitRoundoff32 = 5.9604644775390625e-08;  // 2^-24
inline constexpr double kUnitRoundoff64 = 1.1102230246251565e-16;  // 2^-53
inline constexpr double kNoiseFactor = 16.0;                       // K
inline constexpr double kFloorUlps = 64.0;                         // C

double unit_roundoff(at::ScalarType dtype);

struct Accuracy {
  bool judged = false;           // false when a reference is missing or shapes differ (the row then fails)
  double error = 0.0;            // max |manual - ref64|
  double autograd_error = 0;     // max |autograd32 - ref64|
  double scale = 0.0;            // max(max |ref64|, noise_scale)
  double bound = 0.0;            // K (u/u32) autograd_error + C u scale
  bool pass = false;             // judged && error <= bound (NaN never passes)
  std::string describe() const;  // "error 1.2e-09 <= bound 3.4e-08 (autograd32 error 2e-10, scale 0.03)"
};

// manual: the hand-derived tensor, in the run's dtype. ref64 / autograd32: the reference (autograd)
// evaluated on the same inputs in float64 and in float32. noise_scale: for a gradient that is
// analytically zero (its computed value is pure rounding), the first-order rounding bound of the sum
// that produces it, divided by u: the number of summed terms times the sum of their magnitudes.
Accuracy judge_accuracy(const at::Tensor& manual, const at::Tensor& ref64, const at::Tensor& autograd32,
                        double noise_scale = 0.0);

// judge_accuracy's noise_scale of a gradient that is a sum over `dim` of `terms` (a bias's gradient:
// the sum over rows of its output's gradient): the count of terms times the largest sum of their
// magnitudes. For gradients that nearly cancel, whose computed value is mostly rounding.
double sum_noise_scale(const at::Tensor& terms, std::int64_t dim);

// ---- Rows: one compared tensor, judged -----------------------------------------------------------

// The reference (autograd, or the op forward for a forward row) for one tensor, evaluated on the
// same inputs in the run's dtype and in both float32 and float64.
struct Reference {
  at::Tensor run;            // compared element by element (exactness, allclose, ULPs)
  at::Tensor f32, f64;       // for the accuracy rule
  double noise_scale = 0.0;  // see judge_accuracy
};

struct Row {
  Comparison cmp;                      // manual vs the reference in the run's dtype
  Accuracy accuracy;                   // manual vs float64, bounded by float32 autograd's error
  bool expect_exact = false;           // from the ledger
  std::optional<double> maxdiff_goal;  // the lecture's goal (Exercises 2 and 3), notebook configuration only
  bool pass = false;
  std::string note;  // why it failed, or what changed against the ledger
};

Row make_row(const std::string& name, const at::Tensor& manual, const Reference& ref,
             std::optional<double> maxdiff_goal = std::nullopt);

// Applies the rule: shape, exactness (when expect_exact), accuracy, and the goal if any. Sets pass and note.
void judge(Row& row, bool expect_exact);

}  // namespace bpn::verify
