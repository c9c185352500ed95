#include "models/options.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "train/curve_io.h"
#include "util/atomic_file.h"
#include "util/errors.h"

namespace bpn::cli {

std::string Options::text(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::int64_t Options::integer(const std::string& name, std::int64_t fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size()) throw InputError(name + " must be a whole number (got '" + v + "')");
  return value;
}

double Options::number(const std::string& name, double fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size()) throw InputError(name + " must be a number (got '" + v + "')");
  return value;
}

void require_learning_rate(const std::string& option, double lr) {
  if (!std::isfinite(lr) || lr <= 0.0) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", lr);
    throw InputError(option + " must be a positive finite number (got " + value + ")");
  }
}

std::vector<std::string> Options::names() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(name);
  return out;
}

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

void require_a_verified_step(std::int64_t verify_every, std::int64_t first_step, std::int64_t steps) {
  if (verify_every <= 0) return;
  const std::int64_t first_checked = (first_step + verify_every - 1) / verify_every * verify_every;
  if (first_checked >= steps) {
    throw InputError("--verify-every " + std::to_string(verify_every) + " checks no step of this run (steps " +
                     std::to_string(first_step) + " to " + std::to_string(steps) + " contain no multiple of " +
                     std::to_string(verify_every) + "): pass a smaller --verify-every or more --steps");
  }
}

OutputDirectories::OutputDirectories(OutputDirectories&& other) noexcept
    : made_(std::move(other.made_)), exceptions_at_start_(other.exceptions_at_start_) {
  other.made_.clear();
}

OutputDirectories::~OutputDirectories() {
  if (std::uncaught_exceptions() <= exceptions_at_start_) return;  // the run returned: keep what it made
  for (const std::string& dir : made_) {
    std::error_code ec;
    if (!std::filesystem::is_empty(dir, ec) || ec) return;  // something was written: keep it and its parents
    std::filesystem::remove(dir, ec);
  }
}

OutputDirectories prepare_outputs(const std::string& out_dir, const std::string& file, const std::string& json) {
  OutputDirectories made;
  if (!out_dir.empty()) {
    std::error_code ec;
    // one component at a time, as the system resolves the path ("a/../b" makes a, then b), each directory
    // made recorded, deepest first
    std::filesystem::path prefix;
    for (const std::filesystem::path& part : std::filesystem::path(out_dir)) {
      prefix /= part;
      if (part.empty() || std::filesystem::exists(prefix, ec)) continue;
      const bool created = std::filesystem::create_directory(prefix, ec);  // false: another process made it
      if (ec) break;
      if (created) made.made_.insert(made.made_.begin(), prefix.string());
    }
    if (ec || !std::filesystem::is_directory(out_dir)) {
      throw InputError("--out " + out_dir + ": cannot create the directory (" + ec.message() + ")");
    }
    util::check_writable((std::filesystem::path(out_dir) / file).string(), "--out");
  }
  if (!json.empty()) util::check_writable(json, "--json");
  return made;
}

void write_loss_files(const std::string& out_dir, const std::vector<float>& losses, std::int64_t chunk,
                      std::ostream& err) {
  if (out_dir.empty()) return;
  const auto dir = std::filesystem::path(out_dir);
  const auto csv = (dir / "loss.csv").string();
  train::write_loss_csv(csv, train::loss_curve(losses, chunk));
  const std::string problem = train::plot_loss_png(csv, (dir / "loss.png").string());
  if (!problem.empty()) err << "bpninja: warning: no loss.png: " << problem << "\n";
}

}  // namespace bpn::cli
