#include "train/checkpoint_file.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>
#include <filesystem>

#include "util/atomic_file.h"
#include "util/errors.h"

namespace bpn::train {

std::string safetensors_checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / kSafetensorsCheckpointFile).string();
}

std::string data_fingerprint(const data::Dataset& data) {
  std::uint64_t h = kFnv1a64Offset;
  auto put = [&h](std::uint32_t v) {
    const char bytes[4] = {static_cast<char>(v & 0xFFu), static_cast<char>((v >> 8) & 0xFFu),
                           static_cast<char>((v >> 16) & 0xFFu), static_cast<char>((v >> 24) & 0xFFu)};
    h = fnv1a64(bytes, sizeof bytes, h);
  };
  for (const data::Word& w : data.words) {
    for (const char32_t c : w) put(static_cast<std::uint32_t>(c));
    put(0);
  }
  return fnv1a64_tag(h);
}

void require_same_data(const std::string& resume, const std::string& data_path, bool same_vocabulary_and_split,
                       const std::string& saved_fingerprint, const data::Dataset& data) {
  const std::string other = "--resume " + resume + ": the checkpoint was trained on other data than " + data_path;
  if (!same_vocabulary_and_split) throw InputError(other + " (vocabulary or split differs); pass the same --data");
  if (saved_fingerprint.empty()) return;  // written before checkpoints recorded it
  const std::string fingerprint = data_fingerprint(data);
  if (saved_fingerprint != fingerprint) {
    throw InputError(other + " (the same vocabulary and split sizes, other words: " + saved_fingerprint + " vs " +
                     fingerprint + "); pass the same --data");
  }
}

SafeTensors checkpoint_base(const std::string& arch, const nlohmann::json& config, const data::Vocab& vocab,
                            const std::string& split_key, std::int64_t split_size, const std::string& fingerprint,
                            std::int64_t step, const at::Generator& g, const std::vector<float>& losses) {
  SafeTensors st;
  nlohmann::json codes = nlohmann::json::array();
  for (const char32_t c : vocab.itos) codes.push_back(static_cast<std::uint32_t>(c));
  st.metadata = {{"format", "bpninja-checkpoint"}, {"format_version", "1"}, {"arch", arch},
                 {"config", config.dump()},        {"vocab", codes.dump()}, {split_key, std::to_string(split_size)},
                 {"step", std::to_string(step)}};
  if (!fingerprint.empty()) st.metadata["data_fingerprint"] = fingerprint;
  st.tensors.emplace_back("generator_state", g.get_state());
  st.tensors.emplace_back("losses", at::tensor(losses.empty() ? std::vector<float>{} : losses, at::kFloat));
  return st;
}

void write_checkpoint(const std::string& dir, const SafeTensors& st) {
  util::write_file_atomically(safetensors_checkpoint_path(dir), serialize_safetensors(st));
}

std::string safetensors_checkpoint_arch(const std::string& dir) {
  const std::string path = safetensors_checkpoint_path(dir);
  if (!std::filesystem::exists(path)) return "";
  const SafeTensors st = parse_safetensors(util::read_file(path), path);
  const auto arch = st.metadata.find("arch");
  if (arch == st.metadata.end()) throw InputError(path + ": no 'arch' in the metadata; not a bpninja checkpoint");
  return arch->second;
}

CheckpointReader::CheckpointReader(const std::string& dir, const std::string& arch, const std::string& what)
    : path_(safetensors_checkpoint_path(dir)) {
  if (!std::filesystem::exists(path_)) throw InputError(path_ + ": no such file; " + what);
  st_ = parse_safetensors(util::read_file(path_), path_);
  validate(arch);
}

CheckpointReader CheckpointReader::from_bytes(const std::string& bytes, const std::string& source,
                                              const std::string& arch) {
  CheckpointReader r;
  r.path_ = source;
  r.st_ = parse_safetensors(bytes, source);
  r.validate(arch);
  return r;
}

void CheckpointReader::validate(const std::string& arch) {
  const auto format = st_.metadata.find("format");
  if (format == st_.metadata.end() || format->second != "bpninja-checkpoint") {
    fail("not a bpninja checkpoint (no format \"bpninja-checkpoint\" in the metadata)");
  }
  if (meta("format_version") != "1")
    fail("checkpoint format version " + meta("format_version") + "; this bpninja reads 1");
  if (!st_.metadata.count("checksum")) fail("no checksum in the metadata; the file was not written by bpninja");
  if (meta("arch") != arch) fail("holds a " + meta("arch") + " model, not a " + arch);
}

bool CheckpointReader::has(const std::string& name) const {
  for (const auto& [n, t] : st_.tensors) {
    if (n == name) return true;
  }
  return false;
}

void CheckpointReader::fail(const std::string& problem) const { throw InputError(path_ + ": " + problem); }

std::string CheckpointReader::meta(const std::string& key) const {
  const auto it = st_.metadata.find(key);
  if (it == st_.metadata.end()) fail("no '" + key + "' in the metadata; not a bpninja checkpoint");
  return it->second;
}

std::string CheckpointReader::optional_meta(const std::string& key) const {
  const auto it = st_.metadata.find(key);
  return it == st_.metadata.end() ? std::string() : it->second;
}

nlohmann::json CheckpointReader::config() const {
  try {
    return nlohmann::json::parse(meta("config"));
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("inconsistent metadata (config: ") + e.what() + ")");
  }
}

std::vector<char32_t> CheckpointReader::vocab() const {
  std::vector<char32_t> v;
  try {
    for (const auto& c : nlohmann::json::parse(meta("vocab")))
      v.push_back(static_cast<char32_t>(c.get<std::uint32_t>()));
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("inconsistent metadata (vocab: ") + e.what() + ")");
  }
  return v;
}

std::int64_t CheckpointReader::integer(const std::string& key) const {
  const std::string s = meta(key);
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    fail("inconsistent metadata ('" + key + "' is not a whole number)");
  }
  return std::stoll(s);
}

void CheckpointReader::restore(const std::string& name, at::Tensor* t) {
  const at::Tensor& v = st_.at(name, path_);
  if (v.sizes() != t->sizes() || v.scalar_type() != t->scalar_type()) {
    auto describe = [](const at::Tensor& x) {
      std::string s = "[";
      for (std::int64_t d = 0; d < x.dim(); ++d) s += (d ? ", " : "") + std::to_string(x.size(d));
      return s + "] " + std::string(c10::toString(x.scalar_type()));
    };
    fail("tensor '" + name + "' " + describe(v) + " does not match the config's " + describe(*t));
  }
  *t = v.clone();
  taken_.insert(name);
}

void CheckpointReader::restore_history(at::Generator& g, std::vector<float>& losses, std::int64_t step) {
  const at::Tensor& l = st_.at("losses", path_);
  if (l.dim() != 1 || l.size(0) != step || l.scalar_type() != at::kFloat) {
    fail("the loss history does not have one entry per step");
  }
  losses.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
  g = at::detail::createCPUGenerator(0);
  try {
    g.set_state(st_.at("generator_state", path_));
  } catch (const c10::Error&) {
    fail("the generator state is not a CPU generator's");
  }
  taken_.insert("losses");
  taken_.insert("generator_state");
}

void CheckpointReader::reject_unexpected() const {
  for (const auto& [name, t] : st_.tensors) {
    if (!taken_.count(name)) fail("unexpected tensor '" + name + "'; not this model's checkpoint");
  }
}

}  // namespace bpn::train
