// Runs bpninja's command line, in-process (run_cli) or as its own child process (run_process,
// spawn_process), as a user runs it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace bpn::testing {

struct CliResult {
  int status;  // the exit status; -N when the process was ended by signal N
  std::string out, err;
};

// run_cli({"check", "--batch-size", "1"}): argv[0] is added.
CliResult run_cli(std::vector<std::string> args);

// Starts the bpninja executable with `args`, stdout and stderr into the files `out` and `err`, in the
// environment of this process. Returns the pid, or 0 (with a test failure) when it could not start.
pid_t spawn_process(const std::vector<std::string>& args, const std::filesystem::path& out,
                    const std::filesystem::path& err);

// Waits for a spawned process: its exit status, or -N when signal N ended it.
int wait_process(pid_t pid);

// spawn_process + wait_process, with stdout and stderr read back.
CliResult run_process(const std::vector<std::string>& args);

}  // namespace bpn::testing
