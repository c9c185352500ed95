#include "support/names.h"

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace bpn::testing {

std::string names_path() {
  if (const char* env = std::getenv("BPNINJA_NAMES")) return env;
  return std::string(BPNINJA_SOURCE_DIR) + "/data/names.txt";
}

std::string source_dir() { return BPNINJA_SOURCE_DIR; }

std::string bpninja_ledger_path() { return std::string(BPNINJA_SOURCE_DIR) + "/tests/golden/exactness.json"; }

const data::Dataset* notebook_dataset() {
  static const std::unique_ptr<data::Dataset> dataset = []() -> std::unique_ptr<data::Dataset> {
    if (!std::filesystem::exists(names_path())) return nullptr;
    return std::make_unique<data::Dataset>(data::load_dataset(names_path(), 3));
  }();
  return dataset.get();
}

}  // namespace bpn::testing
