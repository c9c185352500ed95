#include "support/cli_runner.h"

#include <sstream>

#include "cli/cli.h"

namespace bpn::testing {

CliResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "bpninja");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int status = cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
  return {status, out.str(), err.str()};
}

}  // namespace bpn::testing
