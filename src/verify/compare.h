// Element-by-element comparison of a hand-derived gradient with a reference (autograd).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bpn::verify {

// torch.allclose's defaults.
inline constexpr double kRtol = 1e-5;
inline constexpr double kAtol = 1e-8;

struct Comparison {
  std::string name;
  std::vector<std::int64_t> shape;            // the manual gradient's shape
  std::vector<std::int64_t> reference_shape;  // the reference's shape
  bool same_shape = false;                    // shapes and dtypes equal; no broadcasting is ever applied
  bool exact = false;                         // every element bitwise equal (so -0.0 vs +0.0 is not exact)
  bool allclose = false;        // |manual - ref| <= atol + rtol*|ref| everywhere (torch.allclose), NaN never close
  double maxdiff = 0.0;         // max |manual - ref|, computed in float64 (NaN if either has a NaN)
  double exact_fraction = 0.0;  // fraction of elements that are bitwise equal
  std::uint64_t max_ulp = 0;    // largest distance in units in the last place of the dtype
  std::vector<std::int64_t> worst_index;  // multi-index of the element with the largest |diff|
  double manual_at_worst = 0.0;
  double reference_at_worst = 0.0;
  std::string problem;  // non-empty when the comparison could not be made (shape or dtype mismatch)
};

// Compares two tensors of the same shape and floating dtype (float32 or float64), on any device.
Comparison compare(const std::string& name, const at::Tensor& manual, const at::Tensor& reference);

std::string shape_string(const std::vector<std::int64_t>& shape);  // "[32, 64]"
std::string index_string(const std::vector<std::int64_t>& index);  // "(3, 17)"

// A multi-line description: shape, exact, allclose, maxdiff, fraction exact, ULPs, worst element.
std::string describe(const Comparison& c);

}  // namespace bpn::verify
