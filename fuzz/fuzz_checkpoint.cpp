// libFuzzer target: the legacy checkpoint reader (checkpoint.bpn; fuzz_safetensors covers today's
// safetensors checkpoints). Any input must either parse into a consistent checkpoint or raise
// bpn::InputError; a crash, a read past the end or another exception is a bug.
//
// Two modes, chosen by the first byte. Even: the bytes are the file as it is, so the checksum
// rejects almost every mutation. Odd: the rest of the input is a file body and the correct checksum
// is appended, so mutations reach the header and tensor validation behind the checksum.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "models/mlp/checkpoint.h"
#include "util/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1) != 0) {
    bytes.erase(0, 1);
    const std::uint64_t checksum = bpn::train::fnv1a64(bytes.data(), bytes.size());
    char tail[sizeof checksum];
    std::memcpy(tail, &checksum, sizeof checksum);
    bytes.append(tail, sizeof tail);
  }
  try {
    const bpn::train::Checkpoint c = bpn::train::parse_checkpoint(bytes, "fuzz.bpn");
    // A parsed checkpoint is usable: its shapes agree, so a forward pass must run.
    const at::Tensor X = at::zeros({1, c.block_size}, at::kLong);
    if (c.calibrated()) (void)bpn::train::inference_logits(c.state.params, c.bn, X);
  } catch (const bpn::InputError&) {
  }
  return 0;
}
