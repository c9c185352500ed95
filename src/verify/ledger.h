// The exactness ledger: which gradients are bit-exact for each LibTorch version, CPU capability,
// dtype, device and experiment configuration. Checked in as tests/golden/exactness.json.
// A tensor recorded as exact that stops being exact is a gradient regression.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "verify/environment.h"

namespace bpn::verify {

struct LedgerEntry {
  Environment env;
  nlohmann::json config;                               // the experiment: sizes, batch, seed, data
  std::map<std::string, std::set<std::string>> exact;  // "exercise1" -> names recorded bit-exact
};

class Ledger {
 public:
  // A missing file gives an empty ledger; a malformed one throws bpn::InputError.
  static Ledger load(const std::string& path);
  static Ledger from_json(const nlohmann::json& j, const std::string& source);

  // Every entry must have exactly the exercise keys of `known` and only names listed there; no two
  // entries may share a key. Throws bpn::InputError naming the entry otherwise.
  void validate(const std::map<std::string, std::set<std::string>>& known, const std::string& source) const;
  // The same, with the known rows chosen by each entry's config (one model per "arch").
  using KnownRows = std::function<std::map<std::string, std::set<std::string>>(const nlohmann::json& config)>;
  void validate(const KnownRows& known, const std::string& source) const;

  const LedgerEntry* find(const Environment& env, const nlohmann::json& config) const;
  void record(const Environment& env, const nlohmann::json& config, const std::string& exercise,
              std::set<std::string> exact_names);
  nlohmann::json to_json() const;
  void save(const std::string& path) const;  // atomically

  std::vector<LedgerEntry> entries;
};

}  // namespace bpn::verify
