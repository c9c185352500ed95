#pragma once

#include <stdexcept>

namespace bpn {

// Bad usage or bad input (a missing file, an invalid option, a corrupt checkpoint).
// The message is one line that names the problem and how to fix it; the CLI prints it and exits 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bpn

namespace bpn::cli {

// Exit statuses of bpninja.
inline constexpr int kExitOk = 0;           // every expectation holds
inline constexpr int kExitCheckFailed = 1;  // a gradient check (or a training goal) failed
inline constexpr int kExitBadInput = 2;     // bad usage or input: one line on stderr says what and how to fix it
inline constexpr int kExitInternal = 3;     // a bug: an unexpected exception

}  // namespace bpn::cli
