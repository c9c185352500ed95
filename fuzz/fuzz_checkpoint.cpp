// libFuzzer target: the checkpoint reader. Any input must either parse into a consistent checkpoint
// or raise bpn::InputError; a crash, a read past the end or another exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "train/checkpoint.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const bpn::train::Checkpoint c = bpn::train::parse_checkpoint(bytes, "fuzz.bpn");
    // A parsed checkpoint is usable: its shapes agree, so a forward pass must run.
    const at::Tensor X = at::zeros({1, c.block_size}, at::kLong);
    if (c.calibrated()) (void)bpn::train::inference_logits(c.state.params, c.bn, X);
  } catch (const bpn::InputError&) {
  }
  return 0;
}
