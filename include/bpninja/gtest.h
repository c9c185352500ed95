// GoogleTest assertions for bpn::gradcheck (target bpninja::gtest): the report is the failure message.
//
//   EXPECT_GRADCHECK(fn, {q, k, v});                       // or (fn, inputs, options)
//   EXPECT_GRADCHECK(forward, backward, {x});              // a hand-derived pair
//   ASSERT_GRADCHECK(fn, inputs);
//   EXPECT_GRADGRADCHECK(fn, inputs);                      // or (fn, inputs, grad_outputs, options)
//
// Variadic, so that braced input lists and lambdas with commas need no extra parentheses.
#pragma once

#include <gtest/gtest.h>

#include "bpninja/gradcheck.h"

namespace bpn {

inline ::testing::AssertionResult as_assertion(const GradcheckReport& report) {
  if (report) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n" << report;
}

}  // namespace bpn

#define EXPECT_GRADCHECK(...) EXPECT_TRUE(::bpn::as_assertion(::bpn::gradcheck(__VA_ARGS__)))
#define ASSERT_GRADCHECK(...) ASSERT_TRUE(::bpn::as_assertion(::bpn::gradcheck(__VA_ARGS__)))
#define EXPECT_GRADGRADCHECK(...) EXPECT_TRUE(::bpn::as_assertion(::bpn::gradgradcheck(__VA_ARGS__)))
#define ASSERT_GRADGRADCHECK(...) ASSERT_TRUE(::bpn::as_assertion(::bpn::gradgradcheck(__VA_ARGS__)))
