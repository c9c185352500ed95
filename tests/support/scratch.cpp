#include "support/scratch.h"

#include <unistd.h>

#include <mutex>
#include <set>
#include <system_error>

namespace bpn::testing {

namespace {
// The paths handed out, removed when the process that made them ends
struct Scratch {
  std::mutex mutex;
  std::set<std::filesystem::path> paths;
  const pid_t owner = ::getpid();
  ~Scratch() {
    if (::getpid() != owner) return;
    for (const auto& p : paths) {
      std::error_code ignored;
      std::filesystem::remove_all(p, ignored);
    }
  }
};
Scratch& scratch() {
  static Scratch s;
  return s;
}
}  // namespace

std::filesystem::path scratch_path(const std::string& name) {
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("bpninja_" + name + "_" + std::to_string(::getpid()));
  Scratch& s = scratch();
  const std::lock_guard<std::mutex> lock(s.mutex);
  s.paths.insert(p);
  return p;
}

std::filesystem::path scratch_dir(const std::string& name) {
  const std::filesystem::path dir = scratch_path(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace bpn::testing
