#include "verify/ledger.h"

#include <filesystem>

#include "util/atomic_file.h"
#include "util/errors.h"

namespace bpn::verify {

namespace {
bool same_env(const Environment& a, const Environment& b) {
  return a.libtorch == b.libtorch && a.cpu_capability == b.cpu_capability && a.dtype == b.dtype && a.device == b.device;
}
}  // namespace

Ledger Ledger::from_json(const nlohmann::json& j, const std::string& source) {
  Ledger ledger;
  try {
    for (const auto& e : j.at("entries")) {
      LedgerEntry entry;
      entry.env.libtorch = e.at("libtorch").get<std::string>();
      entry.env.cpu_capability = e.at("cpu_capability").get<std::string>();
      entry.env.dtype = e.at("dtype").get<std::string>();
      entry.env.device = e.at("device").get<std::string>();
      entry.config = e.at("config");
      for (const auto& [exercise, names] : e.at("exact").items()) {
        entry.exact[exercise] = names.get<std::set<std::string>>();
      }
      ledger.entries.push_back(std::move(entry));
    }
  } catch (const nlohmann::json::exception& ex) {
    throw InputError(source + ": not a valid exactness ledger (" + ex.what() + "); fix or remove it");
  }
  return ledger;
}

Ledger Ledger::load(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  const std::string text = util::read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& ex) {
    throw InputError(path + ": the exactness ledger is not valid JSON (" + ex.what() + ")");
  }
  return from_json(j, path);
}

void Ledger::validate(const std::map<std::string, std::set<std::string>>& known, const std::string& source) const {
  validate([&](const nlohmann::json&) { return known; }, source);
}

void Ledger::validate(const KnownRows& known_for, const std::string& source) const {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const LedgerEntry& e = entries[i];
    const auto known = known_for(e.config);
    const std::string where =
        source + ": entry " + std::to_string(i) + " (" + e.env.key() + ", config " + e.config.dump() + ")";
    for (std::size_t k = 0; k < i; ++k) {
      if (same_env(entries[k].env, e.env) && entries[k].config == e.config) {
        throw InputError(where + " duplicates entry " + std::to_string(k) + "; keep one of them");
      }
    }
    for (const auto& [exercise, names] : known) {
      if (!e.exact.count(exercise)) {
        throw InputError(where + " has no '" + exercise + "' list; record it again with bpninja check --record-ledger");
      }
    }
    for (const auto& [exercise, names] : e.exact) {
      const auto it = known.find(exercise);
      if (it == known.end()) throw InputError(where + " has an unknown exercise key '" + exercise + "'; remove it");
      for (const auto& name : names) {
        if (!it->second.count(name)) {
          throw InputError(where + " lists '" + name + "' under " + exercise +
                           ", which is not a tensor that exercise compares; fix the name or remove it");
        }
      }
    }
  }
}

const LedgerEntry* Ledger::find(const Environment& env, const nlohmann::json& config) const {
  for (const auto& e : entries) {
    if (same_env(e.env, env) && e.config == config) return &e;
  }
  return nullptr;
}

void Ledger::record(const Environment& env, const nlohmann::json& config, const std::string& exercise,
                    std::set<std::string> exact_names) {
  for (auto& e : entries) {
    if (same_env(e.env, env) && e.config == config) {
      e.exact[exercise] = std::move(exact_names);
      return;
    }
  }
  LedgerEntry entry{env, config, {{exercise, std::move(exact_names)}}};
  entries.push_back(std::move(entry));
}

nlohmann::json Ledger::to_json() const {
  nlohmann::json out;
  out["description"] =
      "Gradients recorded bit-exact against torch::autograd, per LibTorch version, ATen CPU capability, dtype, "
      "device and experiment. Written by `bpninja check --record-ledger`; read by `bpninja check` and the tests.";
  out["entries"] = nlohmann::json::array();
  for (const auto& e : entries) {
    nlohmann::json j;
    j["libtorch"] = e.env.libtorch;
    j["cpu_capability"] = e.env.cpu_capability;
    j["dtype"] = e.env.dtype;
    j["device"] = e.env.device;
    j["config"] = e.config;
    j["exact"] = e.exact;
    out["entries"].push_back(j);
  }
  return out;
}

void Ledger::save(const std::string& path) const { util::write_file_atomically(path, to_json().dump(2) + "\n"); }

}  // namespace bpn::verify
