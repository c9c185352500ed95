// libFuzzer target: the word-list loader (parse_words -> vocabulary -> context windows -> split).
// Any input must either load or raise bpn::InputError; anything else (a crash, a sanitizer report,
// another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // keep each run fast; long lines are covered by the unit tests
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto words = bpn::data::parse_words(text, "fuzz.txt");
    const int block_size = 1 + static_cast<int>(size % 8);
    const auto dataset = bpn::data::make_dataset(std::move(words), block_size);
    // Invariants of a loaded dataset.
    if (dataset.vocab.itos.empty() || dataset.vocab.itos[0] != U'.') __builtin_trap();
    if (dataset.train.rows() == 0 || dataset.train.X.size(1) != block_size) __builtin_trap();
    if (dataset.train.Y.max().item<std::int64_t>() >= dataset.vocab.size()) __builtin_trap();
  } catch (const bpn::InputError&) {
  }
  return 0;
}
