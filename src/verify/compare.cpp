#include "verify/compare.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace bpn::verify {

namespace {

// Maps an IEEE value's bits to an integer whose order is the order of the values, so that the
// difference of two mapped values is their distance in ULPs (+0 and -0 map to the same point).
template <typename Bits>
std::int64_t ordered(Bits bits) {
  using Signed = std::make_signed_t<Bits>;
  const Bits sign = Bits{1} << (sizeof(Bits) * 8 - 1);
  const auto magnitude = static_cast<Signed>(bits & ~sign);
  return (bits & sign) != 0 ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
}

template <typename T>
std::uint64_t ulp_distance(T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::uint64_t>::max();
  Bits ba, bb;
  std::memcpy(&ba, &a, sizeof(T));
  std::memcpy(&bb, &b, sizeof(T));
  const std::int64_t oa = ordered(ba), ob = ordered(bb);
  // The difference can exceed int64 for float64 values of opposite sign and huge magnitude.
  const auto ua = static_cast<std::uint64_t>(oa), ub = static_cast<std::uint64_t>(ob);
  return oa >= ob ? ua - ub : ub - ua;
}

std::vector<std::int64_t> unravel(std::int64_t flat, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) break;
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

template <typename T>
void scan(const at::Tensor& m, const at::Tensor& r, Comparison& c) {
  const T* pm = m.data_ptr<T>();
  const T* pr = r.data_ptr<T>();
  const std::int64_t count = m.numel();
  std::int64_t equal_bits = 0, worst = 0;
  double maxdiff = 0.0;
  bool saw_nan = false;
  for (std::int64_t i = 0; i < count; ++i) {
    // Bitwise equal, and a number: a NaN is never exact, not even against an identical NaN.
    if (std::memcmp(&pm[i], &pr[i], sizeof(T)) == 0 && !std::isnan(pm[i])) ++equal_bits;
    const double diff = std::fabs(static_cast<double>(pm[i]) - static_cast<double>(pr[i]));
    if (std::isnan(diff)) {
      if (!saw_nan) worst = i;
      saw_nan = true;
    } else if (!saw_nan && diff > maxdiff) {
      maxdiff = diff;
      worst = i;
    }
    const auto ulps = ulp_distance(pm[i], pr[i]);
    if (ulps > c.max_ulp) c.max_ulp = ulps;
  }
  c.exact = equal_bits == count;
  c.exact_fraction = count == 0 ? 1.0 : static_cast<double>(equal_bits) / static_cast<double>(count);
  c.maxdiff = saw_nan ? std::numeric_limits<double>::quiet_NaN() : maxdiff;
  c.worst_index = unravel(worst, c.shape);
  if (count > 0) {
    c.manual_at_worst = static_cast<double>(pm[worst]);
    c.reference_at_worst = static_cast<double>(pr[worst]);
  }
}

}  // namespace

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::string index_string(const std::vector<std::int64_t>& index) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < index.size(); ++i) os << (i ? ", " : "") << index[i];
  os << ')';
  return os.str();
}

Comparison compare(const std::string& name, const at::Tensor& manual, const at::Tensor& reference) {
  Comparison c;
  c.name = name;
  c.maxdiff = std::numeric_limits<double>::quiet_NaN();
  if (!manual.defined() || !reference.defined()) {
    c.problem = !manual.defined() ? "the manual gradient is undefined" : "the reference gradient is undefined";
    return c;
  }
  c.shape = manual.sizes().vec();
  c.reference_shape = reference.sizes().vec();
  if (c.shape != c.reference_shape) {
    c.problem = "shape mismatch: manual " + shape_string(c.shape) + " vs reference " + shape_string(c.reference_shape) +
                " (no broadcasting is applied)";
    return c;
  }
  if (manual.scalar_type() != reference.scalar_type()) {
    c.problem = std::string("dtype mismatch: manual ") + c10::toString(manual.scalar_type()) + " vs reference " +
                c10::toString(reference.scalar_type());
    return c;
  }
  if (manual.scalar_type() != at::kFloat && manual.scalar_type() != at::kDouble) {
    c.problem = std::string("unsupported dtype ") + c10::toString(manual.scalar_type());
    return c;
  }
  c.same_shape = true;
  const at::Tensor m = manual.detach().to(at::kCPU).contiguous();
  const at::Tensor r = reference.detach().to(at::kCPU).contiguous();
  c.allclose = at::allclose(m, r, kRtol, kAtol);
  if (m.scalar_type() == at::kFloat) {
    scan<float>(m, r, c);
  } else {
    scan<double>(m, r, c);
  }
  return c;
}

std::string describe(const Comparison& c) {
  std::ostringstream os;
  os.precision(9);
  os << c.name << ": ";
  if (!c.problem.empty()) {
    os << c.problem;
    return os.str();
  }
  os << "shape " << shape_string(c.shape) << ", exact " << (c.exact ? "true" : "false") << ", allclose "
     << (c.allclose ? "true" : "false") << " (rtol " << kRtol << ", atol " << kAtol << "), maxdiff " << c.maxdiff
     << ", bit-equal fraction " << c.exact_fraction << ", max ULP " << c.max_ulp << ", worst element "
     << index_string(c.worst_index) << ": manual " << c.manual_at_worst << " vs reference " << c.reference_at_worst;
  return os.str();
}

}  // namespace bpn::verify
