// What every safetensors checkpoint of bpninja shares (train/safetensors.h is the file format):
//   tensors:      the model's (under its own names), "generator_state" (U8: the CPU generator that
//                 draws the batches) and "losses" (F32, one per step done);
//   __metadata__: format "bpninja-checkpoint", format_version "1", arch, config (JSON), vocab (JSON
//                 array of code points), the training split's size under `split_key`, the word list's
//                 data_fingerprint (since 2026-12-07), step, and the checksum of the data bytes (written
//                 by serialize_safetensors).
// The WaveNet and the GPT add their tensors and config; reading validates everything and names the
// file and the problem in one line (bpn::InputError).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "train/safetensors.h"

namespace bpn::train {

inline constexpr const char* kSafetensorsCheckpointFile = "checkpoint.safetensors";

// The file of a checkpoint directory.
std::string safetensors_checkpoint_path(const std::string& dir);

// The word list's fingerprint, "fnv1a64:<16 hex digits>" over its words in the shuffled order the splits
// are cut from (each code point as 4 little-endian bytes, each word ended by 4 zero bytes): two lists with
// the same vocabulary and split sizes but other words differ here.
std::string data_fingerprint(const data::Dataset& data);

// --resume: throws bpn::InputError "--resume DIR: the checkpoint was trained on other data than PATH
// (...); pass the same --data" unless `same_vocabulary_and_split` and, where the checkpoint records a
// fingerprint (those written before 2026-12-07 do not: `saved_fingerprint` empty), it is `data`'s.
void require_same_data(const std::string& resume, const std::string& data_path, bool same_vocabulary_and_split,
                       const std::string& saved_fingerprint, const data::Dataset& data);

// The common part: metadata, generator state and loss history. Add the model's tensors, then write.
// `fingerprint`: data_fingerprint of the data trained on (empty: not recorded).
SafeTensors checkpoint_base(const std::string& arch, const nlohmann::json& config, const data::Vocab& vocab,
                            const std::string& split_key, std::int64_t split_size, const std::string& fingerprint,
                            std::int64_t step, const at::Generator& g, const std::vector<float>& losses);
// Writes <dir>/checkpoint.safetensors atomically.
void write_checkpoint(const std::string& dir, const SafeTensors& st);

// The metadata "arch" of <dir>/checkpoint.safetensors, or "" when the directory has none.
std::string safetensors_checkpoint_arch(const std::string& dir);

class CheckpointReader {
 public:
  // Reads <dir>/checkpoint.safetensors and validates the layout, the checksum (required: every
  // checkpoint bpninja writes has one), the format and the arch. `what` completes the hint of a
  // missing file: "pass the --out directory of a `bpninja train --arch gpt` run".
  CheckpointReader(const std::string& dir, const std::string& arch, const std::string& what);
  // The same from the file's bytes; `source` names it in errors.
  static CheckpointReader from_bytes(const std::string& bytes, const std::string& source, const std::string& arch);
  const std::string& path() const { return path_; }
  std::string meta(const std::string& key) const;           // throws when absent
  std::string optional_meta(const std::string& key) const;  // "" when absent
  nlohmann::json config() const;                            // parsed; throws on bad JSON
  std::vector<char32_t> vocab() const;
  std::int64_t integer(const std::string& key) const;  // a non-negative whole number in the metadata
  // Copies the tensor `name` into *t, which gives the expected shape and dtype.
  void restore(const std::string& name, at::Tensor* t);
  // The generator state and the loss history (one entry per step).
  void restore_history(at::Generator& g, std::vector<float>& losses, std::int64_t step);
  // Throws if the file holds a tensor that restore() did not take: not this model's checkpoint.
  void reject_unexpected() const;
  [[noreturn]] void fail(const std::string& problem) const;
  bool has(const std::string& name) const;  // a tensor of that name is in the file

 private:
  CheckpointReader() = default;
  void validate(const std::string& arch);
  std::string path_;
  SafeTensors st_;
  std::set<std::string> taken_;
};

}  // namespace bpn::train
