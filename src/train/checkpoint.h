// Checkpoints: one file, `<dir>/checkpoint.bpn`, written atomically.
//
// Layout (all integers little-endian):
//   8 bytes   magic "BPNCKPT\0"
//   u32       format version (kCheckpointVersion)
//   u64       header length L
//   L bytes   header, JSON: config, vocabulary, step, and for each tensor its name, dtype, shape,
//             offset and size in the payload
//   ...       payload: the raw tensor bytes
//   u64       FNV-1a 64 checksum of every byte before it
// Reading checks the magic, version, checksum, header, every tensor's size and offset, and the
// shapes against the config, before anything is used: a truncated, corrupt or mismatched file is
// rejected with bpn::InputError, never read past its end.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "train/trainer.h"

namespace bpn::train {

inline constexpr std::uint32_t kCheckpointVersion = 1;
inline constexpr const char* kCheckpointFile = "checkpoint.bpn";

struct Checkpoint {
  TrainConfig config;
  std::vector<char32_t> vocab;  // itos
  std::int64_t block_size = 3;
  std::int64_t train_rows = 0;  // of the data it was trained on (a resume must use the same data)
  TrainState state;
  // Calibrated on the training split at the end of a run. Checkpoints written during a run (for
  // --resume) leave them undefined: calibration is a forward pass over the whole split (~0.7 s).
  BatchNormStats bn;
  bool calibrated() const { return bn.bnmean.defined(); }
};

std::string serialize_checkpoint(const Checkpoint& c);
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source);  // throws bpn::InputError

void save_checkpoint(const std::string& dir, const Checkpoint& c);  // atomically
Checkpoint load_checkpoint(const std::string& dir);                 // throws bpn::InputError

std::uint64_t fnv1a64(const char* data, std::size_t size);

}  // namespace bpn::train
