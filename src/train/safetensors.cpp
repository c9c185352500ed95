#include "train/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/errors.h"

namespace bpn::train {

std::uint64_t fnv1a64(const char* data, std::size_t size, std::uint64_t h) {
  for (std::size_t i = 0; i < size; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {
struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {{at::kFloat, "F32"}, {at::kDouble, "F64"}, {at::kLong, "I64"}, {at::kByte, "U8"}};

const char* name_of(at::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (d.type == t) return d.name;
  }
  throw std::invalid_argument(std::string("safetensors: unsupported dtype ") + c10::toString(t));
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

std::string fnv1a64_tag(std::uint64_t h) { return "fnv1a64:" + hex(h); }

const at::Tensor& SafeTensors::at(const std::string& name, const std::string& source) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  throw InputError(source + ": no tensor '" + name + "' in the file");
}

std::string serialize_safetensors(const SafeTensors& st) {
  nlohmann::ordered_json header;
  std::string data;
  for (const auto& [name, t] : st.tensors) {
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const std::size_t begin = data.size();
    if (c.numel() > 0) data.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
    header[name] = {
        {"dtype", name_of(c.scalar_type())}, {"shape", c.sizes().vec()}, {"data_offsets", {begin, data.size()}}};
  }
  nlohmann::ordered_json meta(st.metadata);
  meta["checksum"] = hex(fnv1a64(data.data(), data.size()));
  header["__metadata__"] = meta;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned
  std::string out(8, '\0');
  const std::uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& source) {
  auto bad = [&](const std::string& what) {
    return InputError(source + ": not a valid safetensors file (" + what + ")");
  };
  if (bytes.size() < 8) throw bad("shorter than its 8-byte header length");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8 || n > (100u << 20))
    throw bad("header length " + std::to_string(n) + " past the end of the file");
  nlohmann::ordered_json header;  // keeps the file's order of tensors
  try {
    header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception&) {
    throw bad("the header is not JSON");
  }
  if (!header.is_object()) throw bad("the header is not a JSON object");
  const std::size_t data_begin = 8 + n, data_size = bytes.size() - data_begin;
  SafeTensors st;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  try {
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [k, v] : info.items()) st.metadata[k] = v.get<std::string>();
        continue;
      }
      const std::string dtype = info.at("dtype").get<std::string>();
      const auto it =
          std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const DtypeName& d) { return dtype == d.name; });
      if (it == std::end(kDtypes)) throw bad("tensor '" + name + "' has an unsupported dtype " + dtype);
      const auto shape = info.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<std::uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
        throw bad("tensor '" + name + "' has data_offsets outside the data buffer");
      }
      std::uint64_t numel = 1;
      for (auto d : shape) {
        if (d < 0 || d > (1LL << 40)) throw bad("tensor '" + name + "' has a negative or huge dimension");
        numel *= static_cast<std::uint64_t>(d);
      }
      const at::Tensor t = at::empty(shape, at::TensorOptions().dtype(it->type));
      if (numel * t.element_size() != offsets[1] - offsets[0]) {
        throw bad("tensor '" + name + "' has " + std::to_string(offsets[1] - offsets[0]) + " bytes for its shape");
      }
      if (numel > 0) {  // an empty tensor has no storage: memcpy to its null pointer is undefined even for 0 bytes
        std::memcpy(t.data_ptr(), bytes.data() + data_begin + offsets[0], offsets[1] - offsets[0]);
      }
      st.tensors.emplace_back(name, t);
      ranges.emplace_back(offsets[0], offsets[1]);
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("malformed header entry: ") + e.what());
  }
  std::sort(ranges.begin(), ranges.end());
  std::size_t covered = 0;
  for (const auto& [b, e] : ranges) {
    if (b != covered) throw bad(b < covered ? "two tensors overlap in the data buffer" : "a gap in the data buffer");
    covered = e;
  }
  if (covered != data_size) throw bad("bytes after the last tensor");
  const auto checksum = st.metadata.find("checksum");
  if (checksum != st.metadata.end() && checksum->second != hex(fnv1a64(bytes.data() + data_begin, data_size))) {
    throw InputError(source + ": checksum mismatch: the file is corrupt (its data changed after it was written)");
  }
  return st;
}

}  // namespace bpn::train
