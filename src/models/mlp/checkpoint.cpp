#include "models/mlp/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "train/sample.h"
#include "util/atomic_file.h"
#include "util/errors.h"

namespace bpn::train {

namespace {

constexpr char kMagic[8] = {'B', 'P', 'N', 'C', 'K', 'P', 'T', '\0'};

template <typename T>
void put(std::string& out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));  // the supported platforms are little-endian
  out.append(buf, sizeof(T));
}

template <typename T>
T get(const std::string& in, std::size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

std::vector<NamedTensor> tensors_of(const Checkpoint& c) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : c.state.params.named()) out.push_back({name, *t});
  if (c.calibrated()) {
    out.push_back({"bnmean", c.bn.bnmean});
    out.push_back({"bnvar", c.bn.bnvar});
  }
  out.push_back({"generator_state", c.state.g.get_state()});
  out.push_back({"losses", at::tensor(c.state.losses.empty() ? std::vector<float>{} : c.state.losses, at::kFloat)});
  return out;
}

at::ScalarType dtype_from(const std::string& name, const std::string& source) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "uint8") return at::kByte;
  throw InputError(source + ": unknown tensor dtype '" + name + "' in the header");
}

std::string dtype_to(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kByte:
      return "uint8";
    default:
      throw std::logic_error("checkpoint: unsupported dtype");
  }
}

}  // namespace

std::string serialize_legacy_checkpoint(const Checkpoint& c) {
  nlohmann::json header;
  header["config"] = c.config.to_json();
  header["vocab"] = std::vector<std::uint32_t>(c.vocab.begin(), c.vocab.end());
  header["block_size"] = c.block_size;
  header["train_rows"] = c.train_rows;
  header["step"] = c.state.step;
  header["calibrated"] = c.calibrated();
  std::string payload;
  header["tensors"] = nlohmann::json::array();
  for (const auto& [name, tensor] : tensors_of(c)) {
    const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const auto nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    header["tensors"].push_back({{"name", name},
                                 {"dtype", dtype_to(t.scalar_type())},
                                 {"shape", t.sizes().vec()},
                                 {"offset", payload.size()},
                                 {"nbytes", nbytes}});
    if (nbytes > 0) payload.append(static_cast<const char*>(t.data_ptr()), nbytes);
  }
  const std::string header_text = header.dump();
  std::string out(kMagic, sizeof kMagic);
  put<std::uint32_t>(out, kLegacyCheckpointVersion);
  put<std::uint64_t>(out, header_text.size());
  out += header_text;
  out += payload;
  put<std::uint64_t>(out, fnv1a64(out.data(), out.size()));
  return out;
}

Checkpoint parse_legacy_checkpoint(const std::string& bytes, const std::string& source) {
  const std::size_t fixed = sizeof kMagic + 4 + 8;
  if (bytes.size() < fixed + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw InputError(source + ": not a bpninja checkpoint (bad magic or too short)");
  }
  const auto version = get<std::uint32_t>(bytes, sizeof kMagic);
  if (version != kLegacyCheckpointVersion) {
    throw InputError(source + ": checkpoint format version " + std::to_string(version) + ", this bpninja reads " +
                     std::to_string(kLegacyCheckpointVersion) + "; retrain or use a matching bpninja");
  }
  const std::size_t body = bytes.size() - 8;
  if (get<std::uint64_t>(bytes, body) != fnv1a64(bytes.data(), body)) {
    throw InputError(source + ": checksum mismatch: the checkpoint is truncated or corrupt");
  }
  const auto header_len = get<std::uint64_t>(bytes, sizeof kMagic + 4);
  if (header_len > body - fixed) throw InputError(source + ": header length exceeds the file");
  const std::size_t payload_start = fixed + header_len;
  const std::size_t payload_size = body - payload_start;

  Checkpoint c;
  bool calibrated = false;
  std::map<std::string, at::Tensor> tensors;
  try {
    const auto header = nlohmann::json::parse(bytes.begin() + static_cast<std::ptrdiff_t>(fixed),
                                              bytes.begin() + static_cast<std::ptrdiff_t>(payload_start));
    c.config = TrainConfig::from_json(header.at("config"));
    for (auto cp : header.at("vocab").get<std::vector<std::uint32_t>>()) c.vocab.push_back(static_cast<char32_t>(cp));
    c.block_size = header.at("block_size").get<std::int64_t>();
    c.train_rows = header.at("train_rows").get<std::int64_t>();
    c.state.step = header.at("step").get<std::int64_t>();
    calibrated = header.at("calibrated").get<bool>();
    for (const auto& t : header.at("tensors")) {
      const auto name = t.at("name").get<std::string>();
      const auto dtype = dtype_from(t.at("dtype").get<std::string>(), source);
      const auto shape = t.at("shape").get<std::vector<std::int64_t>>();
      const auto offset = t.at("offset").get<std::uint64_t>();
      const auto nbytes = t.at("nbytes").get<std::uint64_t>();
      std::uint64_t numel = 1;
      for (auto d : shape) {
        if (d < 0 || d > (1LL << 40)) throw InputError(source + ": tensor " + name + " has an invalid shape");
        numel *= static_cast<std::uint64_t>(d);
      }
      if (numel * c10::elementSize(dtype) != nbytes || offset > payload_size || nbytes > payload_size - offset) {
        throw InputError(source + ": tensor " + name + " does not fit the payload");
      }
      at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
      if (nbytes > 0) std::memcpy(tensor.data_ptr(), bytes.data() + payload_start + offset, nbytes);
      tensors[name] = tensor;
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": malformed checkpoint header (" + e.what() + ")");
  }

  if (c.vocab.size() < 2 || c.vocab[0] != U'.' || c.block_size < 1 || c.state.step < 0) {
    throw InputError(source + ": invalid vocabulary, block size or step in the header");
  }
  const auto V = static_cast<std::int64_t>(c.vocab.size()), E = c.config.n_embd, H = c.config.n_hidden;
  std::map<std::string, std::vector<std::int64_t>> expected = {
      {"C", {V, E}},     {"W1", {c.block_size * E, H}}, {"b1", {H}}, {"W2", {H, V}}, {"b2", {V}}, {"bngain", {1, H}},
      {"bnbias", {1, H}}};
  if (calibrated) {
    expected["bnmean"] = {1, H};
    expected["bnvar"] = {1, H};
  }
  for (const auto& [name, shape] : expected) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw InputError(source + ": tensor " + name + " is missing");
    if (it->second.sizes().vec() != shape || it->second.scalar_type() != c.config.dtype) {
      throw InputError(source + ": tensor " + name + " does not match the checkpoint's configuration");
    }
  }
  for (const char* name : {"generator_state", "losses"}) {
    if (!tensors.count(name)) throw InputError(source + ": tensor " + std::string(name) + " is missing");
  }
  auto& p = c.state.params;
  p.C = tensors["C"];
  p.W1 = tensors["W1"];
  p.b1 = tensors["b1"];
  p.W2 = tensors["W2"];
  p.b2 = tensors["b2"];
  p.bngain = tensors["bngain"];
  p.bnbias = tensors["bnbias"];
  if (calibrated) c.bn = {tensors["bnmean"], tensors["bnvar"]};
  const at::Tensor losses = tensors["losses"];
  if (losses.scalar_type() != at::kFloat || losses.dim() != 1 || losses.numel() != c.state.step) {
    throw InputError(source + ": the loss history does not match the step count");
  }
  c.state.losses.assign(losses.data_ptr<float>(), losses.data_ptr<float>() + losses.numel());
  c.state.g = at::detail::createCPUGenerator(c.config.seed);
  try {
    c.state.g.set_state(tensors["generator_state"]);
  } catch (const c10::Error&) {
    throw InputError(source + ": invalid generator state");
  }
  return c;
}

namespace {
std::map<std::string, std::vector<std::int64_t>> expected_shapes(const TrainConfig& cfg, std::int64_t V,
                                                                 std::int64_t block_size) {
  const std::int64_t E = cfg.n_embd, H = cfg.n_hidden;
  return {{"C", {V, E}}, {"W1", {block_size * E, H}}, {"b1", {H}},       {"W2", {H, V}},
          {"b2", {V}},   {"bngain", {1, H}},          {"bnbias", {1, H}}};
}
}  // namespace

std::string serialize_checkpoint(const Checkpoint& c) {
  nlohmann::json config = c.config.to_json();
  config["block_size"] = c.block_size;
  data::Vocab vocab = data::Vocab::from_chars(c.vocab);
  SafeTensors st = checkpoint_base("mlp", config, vocab, "train_rows", c.train_rows, c.data_fingerprint, c.state.step,
                                   c.state.g, c.state.losses);
  st.metadata["calibrated"] = c.calibrated() ? "true" : "false";
  for (const auto& [name, t] : c.state.params.named()) st.tensors.emplace_back(name, *t);
  if (c.calibrated()) {
    st.tensors.emplace_back("bnmean", c.bn.bnmean);
    st.tensors.emplace_back("bnvar", c.bn.bnvar);
  }
  return serialize_safetensors(st);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source) {
  const bool legacy_name = source.size() >= 4 && source.compare(source.size() - 4, 4, ".bpn") == 0;
  if (legacy_name || (bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0)) {
    return parse_legacy_checkpoint(bytes, source);
  }
  CheckpointReader r = CheckpointReader::from_bytes(bytes, source, "mlp");
  Checkpoint c;
  nlohmann::json config = r.config();
  try {
    c.block_size = config.at("block_size").get<std::int64_t>();
    config.erase("block_size");
  } catch (const nlohmann::json::exception& e) {
    r.fail(std::string("inconsistent metadata (") + e.what() + ")");
  }
  c.config = TrainConfig::from_json(config);
  c.vocab = r.vocab();
  c.train_rows = r.integer("train_rows");
  c.data_fingerprint = r.optional_meta("data_fingerprint");
  c.state.step = r.integer("step");
  const std::string calibrated = r.meta("calibrated");
  if (calibrated != "true" && calibrated != "false")
    r.fail("inconsistent metadata ('calibrated' is not true or false)");
  if (c.vocab.size() < 2 || c.vocab[0] != U'.' || c.block_size < 1 || c.block_size > 1024) {
    r.fail("invalid vocabulary or block size in the metadata");
  }
  const auto shapes = expected_shapes(c.config, static_cast<std::int64_t>(c.vocab.size()), c.block_size);
  const auto dtype = at::TensorOptions().dtype(c.config.dtype);
  for (const auto& [name, t] : c.state.params.named()) {
    *t = at::empty(shapes.at(name), dtype);
    r.restore(name, t);
  }
  if (calibrated == "true") {
    c.bn.bnmean = at::empty({1, c.config.n_hidden}, dtype);
    c.bn.bnvar = at::empty({1, c.config.n_hidden}, dtype);
    r.restore("bnmean", &c.bn.bnmean);
    r.restore("bnvar", &c.bn.bnvar);
  }
  r.restore_history(c.state.g, c.state.losses, c.state.step);
  r.reject_unexpected();
  return c;
}

void save_checkpoint(const std::string& dir, const Checkpoint& c) {
  util::write_file_atomically(safetensors_checkpoint_path(dir), serialize_checkpoint(c));
}

Checkpoint load_checkpoint(const std::string& dir) {
  std::filesystem::path path(dir);
  if (std::filesystem::is_directory(path)) {
    path = safetensors_checkpoint_path(dir);
    if (!std::filesystem::exists(path) && std::filesystem::exists(std::filesystem::path(dir) / kLegacyCheckpointFile)) {
      path = std::filesystem::path(dir) / kLegacyCheckpointFile;
    }
  }
  if (!std::filesystem::exists(path)) {
    throw InputError(path.string() + ": no checkpoint; train one with 'bpninja train --out DIR'");
  }
  return parse_checkpoint(util::read_file(path.string()), path.string());
}

std::vector<std::string> sample_names(const Checkpoint& c, std::int64_t count, std::uint64_t seed,
                                      std::int64_t max_length) {
  if (!c.calibrated()) {
    throw InputError("the checkpoint was written during a run (step " + std::to_string(c.state.step) +
                     ") and has no BatchNorm statistics; finish the run with 'bpninja train --resume DIR' first");
  }
  return sample_with([&](const at::Tensor& X) { return inference_logits(c.state.params, c.bn, X); },
                     data::Vocab::from_chars(c.vocab), c.block_size, count, seed, max_length);
}

}  // namespace bpn::train
