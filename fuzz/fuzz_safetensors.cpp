// libFuzzer target: the safetensors readers. Any input must either parse into something consistent
// or raise bpn::InputError; a crash, a read past the end or another exception is a bug.
//
// Two modes, chosen by the first byte. Even: the rest is a bpninja checkpoint (parse_checkpoint:
// layout, metadata, every tensor's name, shape and dtype; the checksum covers the data bytes only, so
// header mutations reach the validation behind it). Odd: the rest is a weights file for `check
// --params` (params_from_bytes: a user's file from PyTorch, no checksum, the notebook's names).
#include <cstddef>
#include <cstdint>
#include <string>

#include "models/mlp/checkpoint.h"
#include "models/mlp/params_file.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if ((data[0] & 1) == 0) {
      const bpn::train::Checkpoint c = bpn::train::parse_checkpoint(bytes, "fuzz.safetensors");
      // A parsed checkpoint is usable: its shapes agree, so a forward pass must run.
      const at::Tensor X = at::zeros({1, c.block_size}, at::kLong);
      if (c.calibrated()) (void)bpn::train::inference_logits(c.state.params, c.bn, X);
    } else {
      const bpn::train::ParamsFile p = bpn::train::params_from_bytes(bytes, "fuzz.safetensors", 27, 3);
      if (p.params.W1.size(0) != 3 * p.n_embd || p.params.W2.size(1) != 27) __builtin_trap();
    }
  } catch (const bpn::InputError&) {
  }
  return 0;
}
