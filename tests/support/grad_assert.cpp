#include "support/grad_assert.h"

#include "verify/compare.h"

namespace bpn::testing {

namespace {
::testing::AssertionResult check(bool exact_required, const char* manual_expr, const char* reference_expr,
                                 const at::Tensor& manual, const at::Tensor& reference) {
  const verify::Comparison c = verify::compare(manual_expr, manual, reference);
  const bool ok = c.problem.empty() && (exact_required ? c.exact : c.allclose);
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (exact_required ? "not bit-exact: " : "not allclose: ") << manual_expr
                                       << " vs " << reference_expr << "\n  " << verify::describe(c);
}
}  // namespace

::testing::AssertionResult GradAllClose(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                        const at::Tensor& reference) {
  return check(false, manual_expr, reference_expr, manual, reference);
}

::testing::AssertionResult GradExact(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                     const at::Tensor& reference) {
  return check(true, manual_expr, reference_expr, manual, reference);
}

}  // namespace bpn::testing
