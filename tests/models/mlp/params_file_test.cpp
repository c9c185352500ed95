// `bpninja check --params`: the three exercises at given weights. A file as PyTorch's
// safetensors.torch.save_file writes it (no metadata, the notebook's names) passes the verdict; a
// file with a missing, extra, mis-shaped, mistyped or non-finite tensor is an input error naming it.
#include "models/mlp/params_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "support/cli_runner.h"
#include "support/names.h"
#include "support/scratch.h"
#include "train/safetensors.h"
#include "util/errors.h"

namespace bpn::train {
namespace {

namespace fs = std::filesystem;

fs::path params_file_scratch(const std::string& name) { return bpn::testing::scratch_dir("params_" + name); }

// The notebook's names and shapes (n_embd 10, n_hidden 200, V 27, block 3), values a PyTorch user
// might have: randn in the notebook's scales, from torch's default generator.
std::vector<std::pair<std::string, at::Tensor>> pytorch_like(at::ScalarType dtype) {
  at::manual_seed(7);
  const auto o = at::TensorOptions().dtype(dtype);
  return {{"C", at::randn({27, 10}, o)},
          {"W1", at::randn({30, 200}, o) * 0.3},
          {"b1", at::randn({200}, o) * 0.01},
          {"W2", at::randn({200, 27}, o) * 0.1},
          {"b2", at::zeros({27}, o)},
          {"bngain", at::ones({1, 200}, o) + 0.1 * at::randn({1, 200}, o)},
          {"bnbias", at::randn({1, 200}, o) * 0.1}};
}

// The file as safetensors.torch.save_file writes it: a header of name -> dtype/shape/data_offsets, no
// __metadata__ (so no checksum), padded with spaces to a multiple of 8, then the raw data.
std::string write(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t0] : tensors) {
    const at::Tensor t = t0.contiguous();
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", t.scalar_type() == at::kDouble ? "F64" : "F32"},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {data.size(), data.size() + bytes}}};
    data.append(static_cast<const char*>(t.data_ptr()), bytes);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  std::ofstream(path, std::ios::binary) << out << h << data;
  return path.string();
}

TEST(CheckParams, AFileSavedFromPyTorchPassesInBothDtypes) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = params_file_scratch("pytorch");
  for (const auto dtype : {at::kFloat, at::kDouble}) {
    const std::string file = write(dir / "weights.safetensors", pytorch_like(dtype));
    const std::string json = (dir / "r.json").string();
    for (const char* run_dtype : {"float32", "float64"}) {
      fs::remove(json);  // so that a run that writes nothing is not judged by the last one's report
      const auto r = bpn::testing::run_cli(
          {"check", "--data", bpn::testing::names_path(), "--params", file, "--dtype", run_dtype, "--json", json});
      EXPECT_EQ(r.status, cli::kExitOk) << run_dtype << "\n" << r.out << r.err;
      std::ifstream in(json);
      const auto j = nlohmann::json::parse(in);
      EXPECT_EQ(j["config"]["n_hidden"], 200);
      EXPECT_EQ(j["config"]["params"].get<std::string>().rfind("fnv1a64:", 0), 0u);
      EXPECT_FALSE(j["notebook_configuration"].get<bool>()) << "the lecture's goals are for its initial weights";
    }
  }
}

TEST(CheckParams, EveryProblemWithTheFileIsAnInputErrorThatNamesIt) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = params_file_scratch("bad");
  auto variant = [&](const std::string& tag, auto&& edit) {
    auto t = pytorch_like(at::kFloat);
    edit(t);
    return write(dir / (tag + ".safetensors"), t);
  };
  using T = std::vector<std::pair<std::string, at::Tensor>>;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {variant("missing", [](T& t) { t.pop_back(); }), "no tensor 'bnbias'"},
      {variant("extra", [](T& t) { t.emplace_back("running_mean", at::zeros({200})); }),
       "unexpected tensor 'running_mean'"},
      {variant("shape",
               [](T& t) {
                 t[3].second = at::zeros({200, 26});
               }),
       "W2 has shape [200, 26]"},
      {variant("vocab",
               [](T& t) {
                 t[0].second = at::zeros({28, 10});
               }),
       "C has shape [28, 10]"},
      {variant("dtype", [](T& t) { t[2].second = t[2].second.to(at::kDouble); }), "b1 is Double"},
      {variant("nan", [](T& t) { t[1].second[0][0] = NAN; }), "W1 has Inf or NaN"},
      {(dir / "absent.safetensors").string(), "no such file"},
  };
  for (const auto& [file, message] : cases) {
    const auto r = bpn::testing::run_cli({"check", "--data", bpn::testing::names_path(), "--params", file});
    EXPECT_EQ(r.status, cli::kExitBadInput) << file << ": " << r.out;
    EXPECT_NE(r.err.find(message), std::string::npos) << file << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto r = bpn::testing::run_cli(
      {"check", "--data", bpn::testing::names_path(), "--params", variant("ok", [](T&) {}), "--n-hidden", "64"});
  EXPECT_EQ(r.status, cli::kExitBadInput) << "--n-hidden that contradicts the file";
  EXPECT_EQ(bpn::testing::run_cli({"check", "--arch", "wavenet", "--params", variant("ok2", [](T&) {})}).status,
            cli::kExitBadInput);
}

}  // namespace
}  // namespace bpn::train
