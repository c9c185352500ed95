// GoogleTest assertions for gradients. On failure they print the shape, exact/allclose, maxdiff,
// the bit-equal fraction, the largest ULP distance, the worst index and both values there.
//
//   EXPECT_GRAD_ALLCLOSE(manual, reference);   // torch.allclose defaults, shapes must be equal
//   EXPECT_GRAD_EXACT(manual, reference);      // bitwise equal
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace bpn::testing {

::testing::AssertionResult GradAllClose(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                        const at::Tensor& reference);
::testing::AssertionResult GradExact(const char* manual_expr, const char* reference_expr, const at::Tensor& manual,
                                     const at::Tensor& reference);

}  // namespace bpn::testing

#define EXPECT_GRAD_ALLCLOSE(manual, reference) EXPECT_PRED_FORMAT2(::bpn::testing::GradAllClose, manual, reference)
#define ASSERT_GRAD_ALLCLOSE(manual, reference) ASSERT_PRED_FORMAT2(::bpn::testing::GradAllClose, manual, reference)
#define EXPECT_GRAD_EXACT(manual, reference) EXPECT_PRED_FORMAT2(::bpn::testing::GradExact, manual, reference)
#define ASSERT_GRAD_EXACT(manual, reference) ASSERT_PRED_FORMAT2(::bpn::testing::GradExact, manual, reference)
