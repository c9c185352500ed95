// The safetensors file format (Hugging Face's layout), written and read here in a few dozen lines:
//   u64 little-endian N | N bytes of JSON header | the data buffer
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into
// the data buffer) and may hold "__metadata__", a map of strings. Rules followed: the header is
// padded with spaces to a multiple of 8 bytes; dtype names are safetensors' (F32, F64, I64, U8);
// offsets are in range, do not overlap and cover the buffer; tensors are little-endian, row-major.
// Reading validates all of that and throws bpn::InputError with one line naming the problem.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bpn::train {

// FNV-1a, 64 bits: the checksum of checkpoints and the id of parameter files. `h` continues a hash
// over more bytes (fnv1a64(b, m, fnv1a64(a, n)) is the hash of a then b).
inline constexpr std::uint64_t kFnv1a64Offset = 1469598103934665603ULL;
std::uint64_t fnv1a64(const char* data, std::size_t size, std::uint64_t h = kFnv1a64Offset);
// "fnv1a64:<16 hex digits>": how a hash is written where it names something (parameter files, word lists)
std::string fnv1a64_tag(std::uint64_t h);

struct SafeTensors {
  std::vector<std::pair<std::string, at::Tensor>> tensors;                         // in file order
  std::map<std::string, std::string> metadata;                                     // "__metadata__"
  const at::Tensor& at(const std::string& name, const std::string& source) const;  // throws InputError
};

// The bytes of a file; the metadata gains "checksum": FNV-1a 64 of the data buffer, in hex.
std::string serialize_safetensors(const SafeTensors& st);
// Validates the layout and, if present, the checksum. `source` names the file in error messages.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& source);

}  // namespace bpn::train
