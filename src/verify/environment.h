#pragma once

#include <ATen/ATen.h>

#include <string>

namespace bpn::verify {

// What bit-exactness depends on: the LibTorch build, the CPU kernels ATen dispatches to, the dtype
// and the device. The exactness ledger is keyed by these.
struct Environment {
  std::string libtorch;        // TORCH_VERSION of the headers built against, e.g. "1.13.0"
  std::string cpu_capability;  // ATen's dispatch level: "DEFAULT", "AVX2", "AVX512" (ATEN_CPU_CAPABILITY)
  std::string dtype;           // "float32" / "float64"
  std::string device;          // "cpu" / "cuda"
  std::string key() const;     // "libtorch 1.13.0 | cpu AVX2 | float32 | cpu"
};

Environment current_environment(at::ScalarType dtype, at::Device device);

}  // namespace bpn::verify
