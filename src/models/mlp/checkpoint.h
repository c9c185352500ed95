// The MLP's checkpoints: `<dir>/checkpoint.safetensors` (train/checkpoint_file.h), written atomically.
//   tensors:      C, W1, b1, W2, b2, bngain, bnbias (the notebook's names, in the run's dtype), bnmean
//                 and bnvar when calibrated, generator_state (U8), losses (F32, one per step done)
//   __metadata__: format "bpninja-checkpoint", format_version "1", arch "mlp", config (the training
//                 config plus block_size), vocab, train_rows, step, calibrated, checksum
// PyTorch reads it with safetensors.torch.load_file (tools/roundtrip.py does, in CI). Reading checks
// the layout, the checksum, every name, shape and dtype against the config before anything is used.
//
// The format before it, `<dir>/checkpoint.bpn` (magic "BPNCKPT\0", u32 version 1, u64 header length,
// JSON header, raw tensors, FNV-1a 64 of everything before it), is still read: load_checkpoint falls
// back to it, and a run resumed from it writes safetensors (that is the conversion).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/mlp/trainer.h"
#include "train/checkpoint_file.h"

namespace bpn::train {

inline constexpr std::uint32_t kLegacyCheckpointVersion = 1;
inline constexpr const char* kLegacyCheckpointFile = "checkpoint.bpn";

struct Checkpoint {
  TrainConfig config;
  std::vector<char32_t> vocab;  // itos
  std::int64_t block_size = 3;
  std::int64_t train_rows = 0;   // of the data it was trained on (a resume must use the same data)
  std::string data_fingerprint;  // train::data_fingerprint of it; empty in checkpoints written before 2026-12-07
  TrainState state;
  // Calibrated on the training split at the end of a run. Checkpoints written during a run (for
  // --resume) leave them undefined: calibration is a forward pass over the whole split (~0.7 s).
  BatchNormStats bn;
  bool calibrated() const { return bn.bnmean.defined(); }
};

std::string serialize_checkpoint(const Checkpoint& c);  // safetensors bytes
// Reads safetensors bytes, or the legacy format's (recognised by its magic). Throws bpn::InputError.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source);

// The legacy format, kept so that old checkpoints load (and tests can write one).
std::string serialize_legacy_checkpoint(const Checkpoint& c);
Checkpoint parse_legacy_checkpoint(const std::string& bytes, const std::string& source);

void save_checkpoint(const std::string& dir, const Checkpoint& c);  // <dir>/checkpoint.safetensors, atomically
// <dir>/checkpoint.safetensors, else <dir>/checkpoint.bpn; DIR may also name the file. Throws bpn::InputError.
Checkpoint load_checkpoint(const std::string& dir);

// The notebook's sampling loop: start from an all-'.' context, softmax over the logits (BatchNorm
// with the calibrated statistics; train/sample.h), draw the next character with torch.multinomial from a generator
// seeded `seed`, stop at '.'. Names are returned without the final '.'; a name that reaches
// `max_length` characters without a '.' is cut there.
std::vector<std::string> sample_names(const Checkpoint& checkpoint, std::int64_t count, std::uint64_t seed,
                                      std::int64_t max_length = 200);

}  // namespace bpn::train
