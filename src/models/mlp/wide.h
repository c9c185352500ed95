// The accumulator type of the CPU loops' batch sums: double for float, long double (x87, 64-bit
// mantissa) for double. See model/backward.cpp, batchnorm_backward_loop.
#pragma once

#include <type_traits>

namespace bpn::model {
template <typename T>
using Wide = std::conditional_t<std::is_same_v<T, float>, double, long double>;
}  // namespace bpn::model
