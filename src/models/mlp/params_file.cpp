#include "models/mlp/params_file.h"

#include <filesystem>
#include <map>
#include <set>

#include "models/mlp/checkpoint.h"
#include "train/safetensors.h"
#include "util/atomic_file.h"
#include "util/errors.h"

namespace bpn::train {

namespace {

const char* const kNames = "C, W1, b1, W2, b2, bngain and bnbias";

std::string shape_string(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

std::string hex_id(const model::Params& p) {
  std::string bytes;
  for (const auto& [name, t] : p.named()) {
    const at::Tensor c = t->contiguous();
    bytes.append(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.numel()) * c.element_size());
  }
  return fnv1a64_tag(fnv1a64(bytes.data(), bytes.size()));
}

// The shapes the notebook's names must have, given C and W1 (which fix n_embd and n_hidden).
void validate(const std::string& where, model::Params& p, std::int64_t V, std::int64_t block, ParamsFile& out) {
  if (p.C.dim() != 2 || p.C.size(0) != V) {
    throw InputError(where + ": C has shape " + shape_string(p.C) + "; it must be [" + std::to_string(V) +
                     ", n_embd] for this data set's " + std::to_string(V) + " characters");
  }
  const std::int64_t E = p.C.size(1);
  if (p.W1.dim() != 2 || p.W1.size(0) != block * E) {
    throw InputError(where + ": W1 has shape " + shape_string(p.W1) + "; it must be [" + std::to_string(block * E) +
                     ", n_hidden] (block size " + std::to_string(block) + " x n_embd " + std::to_string(E) + ")");
  }
  const std::int64_t H = p.W1.size(1);
  const std::map<std::string, std::vector<std::int64_t>> shapes = {
      {"b1", {H}}, {"W2", {H, V}}, {"b2", {V}}, {"bngain", {1, H}}, {"bnbias", {1, H}}};
  const at::ScalarType dtype = p.C.scalar_type();
  for (const auto& [name, t] : p.named()) {
    const auto it = shapes.find(name);
    if (it != shapes.end() && t->sizes().vec() != it->second) {
      at::Tensor expected = at::empty(it->second);
      throw InputError(where + ": " + name + " has shape " + shape_string(*t) + "; it must be " +
                       shape_string(expected) + " (n_embd " + std::to_string(E) + ", n_hidden " + std::to_string(H) +
                       ")");
    }
    if (t->scalar_type() != dtype || (dtype != at::kFloat && dtype != at::kDouble)) {
      throw InputError(where + ": " + name + " is " + std::string(c10::toString(t->scalar_type())) +
                       "; every tensor must be float32 (F32), or every one float64 (F64)");
    }
    if (!at::isfinite(*t).all().item<bool>()) throw InputError(where + ": " + name + " has Inf or NaN values");
  }
  if (E < 1 || H < 1) throw InputError(where + ": n_embd and n_hidden must be at least 1");
  out.n_embd = E;
  out.n_hidden = H;
  out.id = hex_id(p);
  out.params = std::move(p);
}

ParamsFile from_checkpoint(const std::string& where, const Checkpoint& c, std::int64_t V, std::int64_t block) {
  if (static_cast<std::int64_t>(c.vocab.size()) != V || c.block_size != block) {
    throw InputError(where + ": the checkpoint was trained with " + std::to_string(c.vocab.size()) +
                     " characters and block size " + std::to_string(c.block_size) + ", this data set has " +
                     std::to_string(V) + " and " + std::to_string(block) + "; pass the --data it was trained on");
  }
  ParamsFile out;
  model::Params p = c.state.params;
  validate(where, p, V, block, out);
  return out;
}

}  // namespace

ParamsFile load_params_file(const std::string& path, std::int64_t V, std::int64_t block) {
  const std::string where = "--params " + path;
  if (std::filesystem::is_directory(path)) {
    const std::string arch = safetensors_checkpoint_arch(path);
    if (!arch.empty() && arch != "mlp") {
      throw InputError(where + ": the directory holds a " + arch + " checkpoint; --params takes the MLP's weights");
    }
    return from_checkpoint(where, load_checkpoint(path), V, block);
  }
  if (!std::filesystem::exists(path)) {
    throw InputError(where + ": no such file; give a .safetensors file with the tensors " + std::string(kNames) +
                     ", or a `bpninja train --out` directory");
  }
  return params_from_bytes(util::read_file(path), path, V, block);
}

ParamsFile params_from_bytes(const std::string& bytes, const std::string& path, std::int64_t V, std::int64_t block) {
  const std::string where = "--params " + path;
  if (bytes.rfind(std::string("BPNCKPT\0", 8), 0) == 0)
    return from_checkpoint(where, parse_checkpoint(bytes, path), V, block);
  const SafeTensors st = parse_safetensors(bytes, path);
  const auto format = st.metadata.find("format");
  if (format != st.metadata.end() && format->second == "bpninja-checkpoint") {
    return from_checkpoint(where, parse_checkpoint(bytes, path), V, block);
  }
  // A user's file: exactly the notebook's names.
  model::Params p;
  std::set<std::string> wanted;
  for (const auto& [name, t] : p.named()) wanted.insert(name);
  for (const auto& [name, t] : st.tensors) {
    if (!wanted.count(name)) {
      throw InputError(where + ": unexpected tensor '" + name + "'; the file must hold exactly " + kNames +
                       " (the notebook's names)");
    }
  }
  for (const auto& [name, t] : p.named()) {
    bool found = false;
    for (const auto& [n, v] : st.tensors) {
      if (n == name) {
        *t = v;
        found = true;
      }
    }
    if (!found) {
      throw InputError(where + ": no tensor '" + name + "'; the file must hold " + kNames + " (the notebook's names)");
    }
  }
  ParamsFile out;
  validate(where, p, V, block, out);
  return out;
}

}  // namespace bpn::train
