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
