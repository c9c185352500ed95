#include "cli/options.h"

#include "util/errors.h"

namespace bpn::cli {

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  throw InputError("--dtype must be float32 or float64 (got '" + name + "')");
}

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::kCPU;
  if (name == "cuda") {
    if (!at::hasCUDA()) {
      throw InputError("--device cuda: this LibTorch build has no CUDA support or no GPU is visible; use --device cpu");
    }
    return at::kCUDA;
  }
  throw InputError("--device must be cpu or cuda (got '" + name + "')");
}

void require_range(const std::string& option, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi) {
    throw InputError(option + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " +
                     std::to_string(value) + ")");
  }
}

void require_batch_size(std::int64_t batch_size) {
  if (batch_size < 2) {
    throw InputError("--batch-size must be at least 2 (got " + std::to_string(batch_size) +
                     "): BatchNorm's variance divides by n-1");
  }
  require_range("--batch-size", batch_size, 2, 1 << 20);
}

std::uint64_t parse_seed(const std::string& option, const std::string& text) {
  const std::string allowed = option + " must be a whole number from 0 to 18446744073709551615";
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(allowed + " (got '" + text + "')");
  }
  std::uint64_t value = 0;
  for (char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) throw InputError(allowed + " (got '" + text + "': too large)");
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace bpn::cli
