#include "verify/grad_assert.h"

#include "verify/compare.h"
#include "verify/verdict.h"

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

::testing::AssertionResult GradAccurate(const char* manual_expr, const char* ref64_expr, const char* autograd32_expr,
                                        const at::Tensor& manual, const at::Tensor& ref64,
                                        const at::Tensor& autograd32) {
  const verify::Accuracy a = verify::judge_accuracy(manual, ref64, autograd32);
  if (a.pass) return ::testing::AssertionSuccess();
  const at::Tensor ref_in_dtype = ref64.defined() && manual.defined() ? ref64.to(manual.scalar_type()) : ref64;
  return ::testing::AssertionFailure() << "less accurate than autograd: " << manual_expr << " vs " << ref64_expr
                                       << " (float32 autograd " << autograd32_expr << ")\n  " << a.describe() << "\n  "
                                       << verify::describe(verify::compare(manual_expr, manual, ref_in_dtype));
}

}  // namespace bpn::testing
