// The model interface stays the only door (issue 25): the generic code (src/cli, src/train,
// src/verify, and the shared src/layers, src/data, src/util, src/models/*.{h,cpp}) names no registered
// model in a string literal and includes no header of a model's folder; src/models/registry.cpp is
// the one place that lists them. A new model is then a folder and a line in the registry.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/registry.h"
#include "support/names.h"

namespace bpn {
namespace {

namespace fs = std::filesystem;

struct Finding {
  std::string file;
  int line = 0;
  std::string text;
};

bool ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `name` as a whole word of `text` (not part of mlp_kernel or gpt2)
bool has_word(const std::string& text, const std::string& name) {
  for (std::size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    const bool before = at == 0 || !ident(text[at - 1]);
    const bool after = at + name.size() >= text.size() || !ident(text[at + name.size()]);
    if (before && after) return true;
  }
  return false;
}

// The string literals of C++ source outside comments and preprocessor lines, with their line numbers.
std::vector<std::pair<int, std::string>> string_literals(const std::string& source) {
  std::vector<std::pair<int, std::string>> out;
  int line = 1;
  bool line_start = true;
  for (std::size_t i = 0; i < source.size(); ++i) {
    const char c = source[i];
    if (c == '\n') {
      ++line;
      line_start = true;
      continue;
    }
    if (line_start && c == '#') {  // a preprocessor line (an #include's path is not a literal here)
      while (i + 1 < source.size() && source[i + 1] != '\n') ++i;
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(c))) line_start = false;
    if (c == '/' && i + 1 < source.size() && source[i + 1] == '/') {
      while (i + 1 < source.size() && source[i + 1] != '\n') ++i;
    } else if (c == '/' && i + 1 < source.size() && source[i + 1] == '*') {
      const std::size_t end = source.find("*/", i + 2);
      for (std::size_t k = i; k < std::min(end, source.size()); ++k) line += source[k] == '\n' ? 1 : 0;
      i = end == std::string::npos ? source.size() : end + 1;
    } else if (c == '\'') {  // a character literal, '"' included
      for (++i; i < source.size() && source[i] != '\''; ++i) i += source[i] == '\\' ? 1 : 0;
    } else if (c == 'R' && i + 1 < source.size() && source[i + 1] == '"' && (i == 0 || !ident(source[i - 1]))) {
      const std::size_t open = source.find('(', i + 2);
      const std::string close = ")" + source.substr(i + 2, open - i - 2) + "\"";
      const std::size_t end = source.find(close, open);
      out.push_back({line, source.substr(open + 1, end - open - 1)});
      for (std::size_t k = i; k < end; ++k) line += source[k] == '\n' ? 1 : 0;
      i = end + close.size() - 1;
    } else if (c == '"') {
      std::string literal;
      for (++i; i < source.size() && source[i] != '"'; ++i) {
        if (source[i] == '\\' && i + 1 < source.size()) literal += source[i++];
        literal += source[i];
      }
      out.push_back({line, literal});
    }
  }
  return out;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const models::Model* m : models::all()) names.push_back(m->name());
  return names;
}

std::string read_source(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The generic code: every C++ file of the shared folders, and src/models' own files but the registry.
std::vector<fs::path> generic_files() {
  const fs::path src = fs::path(testing::source_dir()) / "src";
  std::vector<fs::path> files;
  auto cpp = [](const fs::path& p) { return p.extension() == ".cpp" || p.extension() == ".h"; };
  for (const char* dir : {"cli", "train", "verify", "layers", "data", "util"}) {
    for (const auto& e : fs::recursive_directory_iterator(src / dir)) {
      if (e.is_regular_file() && cpp(e.path())) files.push_back(e.path());
    }
  }
  for (const auto& e : fs::directory_iterator(src / "models")) {
    if (e.is_regular_file() && cpp(e.path()) && e.path().filename() != "registry.cpp") files.push_back(e.path());
  }
  return files;
}

std::vector<Finding> literals_naming_a_model(const std::string& file, const std::string& source,
                                             const std::vector<std::string>& names, int& literals) {
  std::vector<Finding> found;
  for (const auto& [line, literal] : string_literals(source)) {
    ++literals;
    for (const std::string& name : names) {
      if (has_word(literal, name)) found.push_back({file, line, "\"" + literal + "\" names " + name});
    }
  }
  return found;
}

std::vector<Finding> includes_of_a_model(const std::string& file, const std::string& source,
                                         const std::vector<std::string>& names, int& includes) {
  std::vector<Finding> found;
  std::istringstream in(source);
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::size_t hash = text.find_first_not_of(" \t");
    if (hash == std::string::npos || text.compare(hash, 8, "#include") != 0) continue;
    ++includes;
    for (const std::string& name : names) {
      if (text.find("\"models/" + name + "/") != std::string::npos) found.push_back({file, line, text});
    }
  }
  return found;
}

std::string describe(const std::vector<Finding>& found) {
  std::string s;
  for (const Finding& f : found) s += "  " + f.file + ":" + std::to_string(f.line) + ": " + f.text + "\n";
  return s;
}

TEST(Architecture, TheScannersSeeWhatTheyLookFor) {  // so that an empty finding list means something
  int literals = 0, includes = 0;
  const std::string planted =
      "#include \"models/gpt/check.h\"\n// \"gpt\" in a comment is fine\nauto a = \"--arch gpt: blocks\";\n"
      "auto b = \"mlp_kernel\"; char q = '\"'; auto c = R\"(wavenet)\";\n";
  const auto named = literals_naming_a_model("planted", planted, {"gpt", "mlp", "wavenet"}, literals);
  ASSERT_EQ(named.size(), 2u) << describe(named);
  EXPECT_EQ(named[0].line, 3);
  EXPECT_EQ(named[1].line, 4);
  EXPECT_EQ(literals, 3);
  EXPECT_EQ(includes_of_a_model("planted", planted, {"gpt"}, includes).size(), 1u);
  EXPECT_EQ(includes, 1);
}

TEST(Architecture, NoModelNameIsAStringLiteralOfTheGenericCode) {
  const auto names = model_names();
  ASSERT_GE(names.size(), 3u);
  const auto files = generic_files();
  ASSERT_GE(files.size(), 40u) << "the scan found too few files under src/";
  int literals = 0;
  std::vector<Finding> found;
  for (const fs::path& f : files) {
    for (Finding& x : literals_naming_a_model(f.string(), read_source(f), names, literals))
      found.push_back(std::move(x));
  }
  EXPECT_GE(literals, 300) << "the scan found too few string literals";
  EXPECT_TRUE(found.empty()) << "model names in the generic code (they belong in the model's folder):\n"
                             << describe(found);
}

TEST(Architecture, NoGenericFileIncludesAModelsFolder) {
  const auto names = model_names();
  int includes = 0;
  std::vector<Finding> found;
  for (const fs::path& f : generic_files()) {
    for (Finding& x : includes_of_a_model(f.string(), read_source(f), names, includes)) found.push_back(std::move(x));
  }
  EXPECT_GE(includes, 200) << "the scan found too few #include lines";
  EXPECT_TRUE(found.empty()) << "the generic code includes a model's folder (only src/models/registry.cpp may):\n"
                             << describe(found);
}

}  // namespace
}  // namespace bpn
