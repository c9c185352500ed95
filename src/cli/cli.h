#pragma once

#include <iosfwd>

#include "util/errors.h"  // the exit statuses

namespace bpn::cli {

// The whole command line interface; main() only calls this. Output goes to `out`, errors to `err`.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
