#include "verify/environment.h"

#include <ATen/Version.h>
#include <torch/version.h>

namespace bpn::verify {

std::string Environment::key() const {
  return "libtorch " + libtorch + " | cpu " + cpu_capability + " | " + dtype + " | " + device;
}

namespace {
std::string cpu_capability() {
  // at::native::get_cpu_capability() is not exported by Debian's build; show_config() prints it.
  const std::string config = at::show_config();
  const std::string marker = "CPU capability usage: ";
  const auto pos = config.find(marker);
  if (pos == std::string::npos) return "unknown";
  const auto start = pos + marker.size();
  const auto end = config.find('\n', start);
  return config.substr(start, end == std::string::npos ? std::string::npos : end - start);
}
}  // namespace

Environment current_environment(at::ScalarType dtype, at::Device device) {
  Environment env;
  env.libtorch = TORCH_VERSION;
  env.cpu_capability = cpu_capability();
  env.dtype = dtype == at::kDouble ? "float64" : dtype == at::kFloat ? "float32" : c10::toString(dtype);
  env.device = device.is_cuda() ? "cuda" : device.str();
  return env;
}

}  // namespace bpn::verify
