#pragma once

#include <iosfwd>

namespace bpn::cli {

// Exit statuses of bpninja.
inline constexpr int kExitOk = 0;           // every expectation holds
inline constexpr int kExitCheckFailed = 1;  // a gradient check (or a training goal) failed
inline constexpr int kExitBadInput = 2;     // bad usage or input: one line on stderr says what and how to fix it
inline constexpr int kExitInternal = 3;     // a bug: an unexpected exception

// The whole command line interface; main() only calls this. Output goes to `out`, errors to `err`.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
