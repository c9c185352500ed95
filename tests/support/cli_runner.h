// Runs bpninja's command line in-process, as the tests need it.
#pragma once

#include <string>
#include <vector>

namespace bpn::testing {

struct CliResult {
  int status;
  std::string out, err;
};

// run_cli({"check", "--batch-size", "1"}): argv[0] is added.
CliResult run_cli(std::vector<std::string> args);

}  // namespace bpn::testing
