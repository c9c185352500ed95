#include "support/names.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

namespace bpn::testing {

std::string names_path() {
  if (const char* env = std::getenv("BPNINJA_NAMES")) return env;
  return std::string(BPNINJA_SOURCE_DIR) + "/data/names.txt";
}

std::string names_sample_path() {
  // The file is removed when the process ends.
  struct SampleFile {
    std::string path;
    ~SampleFile() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove(path, ignored);
    }
  };
  static const SampleFile sample = []() -> SampleFile {
    std::ifstream in(names_path());
    if (!in) return {};
    const std::filesystem::path out_path =
        std::filesystem::temp_directory_path() / ("bpninja_names_every_8th_" + std::to_string(::getpid()) + ".txt");
    std::ofstream out(out_path);
    std::string word;
    for (std::int64_t i = 0; std::getline(in, word); ++i) {
      if (i % 8 == 0) out << word << '\n';
    }
    if (!out.flush()) {
      std::error_code ignored;
      std::filesystem::remove(out_path, ignored);
      throw std::runtime_error("cannot write " + out_path.string() + " (every 8th name, for the tests)");
    }
    return {out_path.string()};
  }();
  return sample.path;
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
