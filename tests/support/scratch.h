// Scratch space for a test process, under the system's temp directory: temp/bpninja_<name>_<pid>, so
// that two runs of the suite at once (two checkouts on one machine, CI beside a developer) never share a
// path (each ctest test is a process of its own). Everything handed out is removed, with its contents,
// when the process that made it ends normally (a forked child's _exit removes nothing).
#pragma once

#include <filesystem>
#include <string>

namespace bpn::testing {

// An empty directory: made afresh, emptied if this process made it before.
std::filesystem::path scratch_dir(const std::string& name);
// A path in the temp directory, nothing made there (a file or a directory the test makes).
std::filesystem::path scratch_path(const std::string& name);

}  // namespace bpn::testing
