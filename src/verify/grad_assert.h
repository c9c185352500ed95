// GoogleTest assertions for gradients. On failure they print the shape, exact/allclose, maxdiff,
// the bit-equal fraction, the largest ULP distance, the worst index and both values there.
//
//   EXPECT_GRAD_ALLCLOSE(manual, reference);   // torch.allclose defaults, shapes must be equal
//   EXPECT_GRAD_EXACT(manual, reference);      // bitwise equal
//   EXPECT_GRAD_ACCURATE(manual, ref64, autograd32);  // the verdict rule (verify/verdict.h): as accurate
//                                                     // as autograd, judged against float64
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace bpn::testing {

::testing::AssertionResult GradAllClose(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                        const at::Tensor& reference);
::testing::AssertionResult GradExact(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                     const at::Tensor& reference);

::testing::AssertionResult GradAccurate(const char* manual_expr, const char* ref64_expr, const char* autograd32_expr,
                                        const at::Tensor& manual, const at::Tensor& ref64,
                                        const at::Tensor& autograd32);

}  // namespace bpn::testing

#define EXPECT_GRAD_ALLCLOSE(manual, reference) EXPECT_PRED_FORMAT2(::bpn::testing::GradAllClose, manual, reference)
#define ASSERT_GRAD_ALLCLOSE(manual, reference) ASSERT_PRED_FORMAT2(::bpn::testing::GradAllClose, manual, reference)
#define EXPECT_GRAD_EXACT(manual, reference) EXPECT_PRED_FORMAT2(::bpn::testing::GradExact, manual, reference)
#define ASSERT_GRAD_EXACT(manual, reference) ASSERT_PRED_FORMAT2(::bpn::testing::GradExact, manual, reference)
#define EXPECT_GRAD_ACCURATE(manual, ref64, autograd32) \
  EXPECT_PRED_FORMAT3(::bpn::testing::GradAccurate, manual, ref64, autograd32)
