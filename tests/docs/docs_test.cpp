// docs/derivations.md as a reference that stays true (issue 13):
//   - every backward function declared in src has a section (an anchor named after it);
//   - every link to a section, in the code, the tests, the examples and the docs, resolves;
//   - every row `bpninja check` prints, for every configuration in the ledger, links a section that exists;
//   - the summary table lists Exercise 1's gradients with the functions the code names and the
//     exactness the ledger records;
//   - the graph pictures in docs/graph/ are what `bpninja graph` draws today.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "models/mlp/check.h"
#include "models/registry.h"
#include "support/names.h"
#include "verify/autograd_dot.h"
#include "verify/sections.h"

namespace bpn {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path source(const std::string& relative) { return fs::path(testing::source_dir()) / relative; }

// GitHub's heading anchors: lowercase; letters, digits, spaces, '-' and '_' kept; spaces become '-'.
std::string github_slug(const std::string& heading) {
  std::string s;
  for (const unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_') {
      s += static_cast<char>(std::tolower(c));
    } else if (c == ' ') {
      s += '-';
    } else if (c >= 0x80) {
      s += static_cast<char>(c);  // GitHub keeps non-ASCII letters
    }
  }
  return s;
}

std::set<std::string> anchors_of(const std::string& markdown) {
  std::set<std::string> anchors;
  std::istringstream in(markdown);
  std::string line;
  bool fenced = false;
  const std::regex explicit_anchor(R"re(<a\s+(?:id|name)="([^"]+)")re");
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (fenced) continue;
    if (!line.empty() && line[0] == '#') {
      const auto text = line.find_first_not_of('#');
      if (text != std::string::npos && line[text] == ' ') anchors.insert(github_slug(line.substr(text + 1)));
    }
    for (std::sregex_iterator it(line.begin(), line.end(), explicit_anchor), end; it != end; ++it) {
      anchors.insert((*it)[1]);
    }
  }
  return anchors;
}

const std::set<std::string>& derivation_anchors() {
  static const std::set<std::string> a = anchors_of(read(source(verify::kDerivationsPath)));
  return a;
}

std::vector<fs::path> files_under(const std::string& dir, const std::set<std::string>& extensions) {
  std::vector<fs::path> out;
  if (!fs::exists(source(dir))) return out;
  for (const auto& e : fs::recursive_directory_iterator(source(dir))) {
    if (e.is_regular_file() && extensions.count(e.path().extension().string())) out.push_back(e.path());
  }
  return out;
}

TEST(Docs, EveryBackwardFunctionInSrcHasASection) {
  ASSERT_FALSE(derivation_anchors().empty()) << source(verify::kDerivationsPath) << " has no headings";
  // A declaration `name(`, a std::function field `name;`, or a function-pointer field `(*name)(`.
  const std::regex declared(R"(\b([a-z][a-z0-9_]*_backward(?:_ops)?)\s*(?:[(;]|\)\s*\())");
  std::set<std::string> functions;
  for (const fs::path& h : files_under("src", {".h"})) {
    const std::string text = read(h);
    for (std::sregex_iterator it(text.begin(), text.end(), declared), end; it != end; ++it) functions.insert((*it)[1]);
  }
  EXPECT_GE(functions.size(), 40u) << "the scan found too few backward functions; is the regex still right?";
  functions.erase("manual_backward");  // verify::GraphRun's field: a model's whole backward, not a derivation
  for (const std::string& f : functions) {
    EXPECT_TRUE(derivation_anchors().count(f))
        << f << " is declared in src but docs/derivations.md has no section '### " << f << "' (or <a id=\"" << f
        << "\"></a>)";
  }
}

TEST(Docs, EverySectionLinkResolves) {
  const std::regex link(R"(derivations\.md#([A-Za-z0-9_-]+))");
  std::vector<fs::path> files;
  for (const char* dir : {"src", "tests", "examples", "bench", "fuzz", "docs"}) {
    for (const fs::path& p : files_under(dir, {".h", ".cpp", ".md", ".txt"})) files.push_back(p);
  }
  files.push_back(source("README.md"));
  int links = 0;
  for (const fs::path& p : files) {
    if (p.filename() == "docs_test.cpp") continue;  // this file's own examples
    const std::string text = read(p);
    for (std::sregex_iterator it(text.begin(), text.end(), link), end; it != end; ++it) {
      ++links;
      EXPECT_TRUE(derivation_anchors().count((*it)[1]))
          << p << " links derivations.md#" << (*it)[1] << ", which does not exist";
    }
  }
  // Links inside derivations.md itself: (#anchor)
  const std::string doc = read(source(verify::kDerivationsPath));
  const std::regex local(R"(\]\(#([A-Za-z0-9_-]+)\))");
  for (std::sregex_iterator it(doc.begin(), doc.end(), local), end; it != end; ++it) {
    ++links;
    EXPECT_TRUE(derivation_anchors().count((*it)[1]))
        << "derivations.md links #" << (*it)[1] << ", which does not exist";
  }
  EXPECT_GT(links, 40);
}

TEST(Docs, EveryRowOfCheckLinksASection) {
  const nlohmann::json ledger = nlohmann::json::parse(read(source("tests/golden/exactness.json")));
  int rows = 0;
  for (const auto& entry : ledger.at("entries")) {
    const nlohmann::json& config = entry.at("config");
    const std::string arch = models::model_of_config(config).name();
    const models::Model& row_model = models::model_of_config(config);
    for (const auto& [exercise, names] : row_model.known_rows(config)) {
      for (const std::string& name : names) {
        ++rows;
        const std::string anchor = row_model.derivation_anchor(exercise, name);
        EXPECT_FALSE(anchor.empty()) << arch << " " << exercise << " row " << name << " has no section";
        EXPECT_TRUE(anchor.empty() || derivation_anchors().count(anchor))
            << arch << " " << exercise << " row " << name << " links #" << anchor << ", which does not exist";
      }
    }
  }
  EXPECT_GT(rows, 100);
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      const auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return out;
}

// "exact" when every ledger entry of the notebook's configuration for (dtype, capabilities) records
// the gradient as exact, "no" when none does; "mixed" otherwise (LibTorch versions disagree).
std::string ledger_exactness(const nlohmann::json& ledger, const std::string& dtype,
                             const std::set<std::string>& capabilities, const std::string& name) {
  int exact = 0, entries = 0;
  for (const auto& e : ledger.at("entries")) {
    const auto& c = e.at("config");
    if (c.contains("arch") || c.value("n_hidden", 0) != 64 || c.value("batch_size", 0) != 32 ||
        c.value("n_embd", 0) != 10 || c.value("seed", 0ULL) != 2147483647ULL) {
      continue;
    }
    if (e.at("dtype") != dtype || !capabilities.count(e.at("cpu_capability").get<std::string>())) continue;
    ++entries;
    const auto& ex1 = e.at("exact").at("exercise1");
    exact += std::find(ex1.begin(), ex1.end(), name) != ex1.end() ? 1 : 0;
  }
  if (entries == 0) return "no ledger entry";
  return exact == entries ? "exact" : exact == 0 ? "no" : "mixed";
}

TEST(Docs, SummaryTableMatchesTheCodeAndTheLedger) {
  const std::string doc = read(source(verify::kDerivationsPath));
  const auto start = doc.find("\n## Summary table");
  ASSERT_NE(start, std::string::npos) << "docs/derivations.md has no '## Summary table'";
  const auto end = doc.find("\n## ", start + 1);
  std::istringstream in(doc.substr(start, end - start));
  std::string line;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) == 0)
      rows.push_back(cells(line));
    else if (!rows.empty())
      break;  // the first table only
  }
  ASSERT_GE(rows.size(), 3u);
  const std::vector<std::string> header = {"gradient",        "function",  "forward line",    "local derivative",
                                           "returns",         "shape",     "f32 AVX2/AVX512", "f32 NO AVX",
                                           "f64 AVX2/AVX512", "f64 NO AVX"};
  ASSERT_EQ(rows[0], header);
  const nlohmann::json ledger = nlohmann::json::parse(read(source("tests/golden/exactness.json")));
  const std::regex function_link(R"(\[`?([a-z0-9_]+)`?\]\(#([a-z0-9_-]+)\))");
  std::set<std::string> listed;
  for (std::size_t r = 2; r < rows.size(); ++r) {
    const auto& row = rows[r];
    ASSERT_EQ(row.size(), header.size()) << "row " << r << " of the summary table";
    std::string name = row[0];
    name.erase(std::remove(name.begin(), name.end(), '`'), name.end());
    listed.insert(name);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(row[1], m, function_link)) << name << ": the function cell is not a link: " << row[1];
    EXPECT_EQ(m[2].str(), models::named("mlp").derivation_anchor("exercise1", name))
        << "d" << name << ": the table links #" << m[2]
        << ", the code (src/models/mlp/model.cpp, mlp_anchor) names another function";
    EXPECT_EQ(row[6], ledger_exactness(ledger, "float32", {"AVX2", "AVX512"}, name))
        << "d" << name << ", f32 AVX2/AVX512";
    EXPECT_EQ(row[7], ledger_exactness(ledger, "float32", {"NO AVX"}, name)) << "d" << name << ", f32 NO AVX";
    EXPECT_EQ(row[8], ledger_exactness(ledger, "float64", {"AVX2", "AVX512"}, name))
        << "d" << name << ", f64 AVX2/AVX512";
    EXPECT_EQ(row[9], ledger_exactness(ledger, "float64", {"NO AVX"}, name)) << "d" << name << ", f64 NO AVX";
  }
  EXPECT_EQ(listed, verify::known_rows().at("exercise1")) << "the summary table must list every gradient of Exercise 1";
}

// The README is a front page (issue 25): short, and every page and anchor it or the docs link exists.
TEST(Docs, TheReadmeIsAFrontPage) {
  const std::string readme = read(source("README.md"));
  ASSERT_FALSE(readme.empty());
  EXPECT_LE(std::count(readme.begin(), readme.end(), '\n'), 250) << "README.md is over 250 lines: move detail to docs/";
  for (const char* page : {"docs/verdict.md", "docs/mutation-testing.md", "docs/training.md", "docs/performance.md",
                           "docs/platforms.md", "docs/api.md", "docs/cli.md", "docs/derivations.md"}) {
    EXPECT_NE(readme.find(std::string("](") + page), std::string::npos) << "README.md does not link " << page;
  }
}

TEST(Docs, EveryRelativeLinkOfTheReadmeAndTheDocsResolves) {
  std::vector<fs::path> pages = files_under("docs", {".md"});
  pages.push_back(source("README.md"));
  const std::regex link(R"(\]\(([^)#\s]*)(#[^)\s]*)?\))");
  int links = 0;
  for (const fs::path& page : pages) {
    const std::string text = read(page);
    for (std::sregex_iterator it(text.begin(), text.end(), link), end; it != end; ++it) {
      const std::string target = (*it)[1], anchor = (*it)[2].matched ? std::string((*it)[2]).substr(1) : "";
      if (target.find("://") != std::string::npos || target.rfind("mailto:", 0) == 0) continue;
      ++links;
      const fs::path file = target.empty() ? page : page.parent_path() / target;
      ASSERT_TRUE(fs::exists(file)) << page << " links " << target << ", which does not exist";
      if (!anchor.empty() && file.extension() == ".md") {
        EXPECT_TRUE(anchors_of(read(file)).count(anchor))
            << page << " links " << target << "#" << anchor << ", which has no such heading or anchor";
      }
    }
  }
  EXPECT_GT(links, 100) << "the scan found too few links";
}

class GraphFreshness : public ::testing::TestWithParam<std::string> {};

TEST_P(GraphFreshness, CheckedInGraphIsWhatBpninjaGraphDrawsToday) {
  BPN_REQUIRE_NAMES(data);
  (void)data;
  const std::string arch = GetParam();
  cli::Options options;
  options.set("--data", testing::names_path());
  const models::Model::Graph g = models::named(arch).graph(options);
  const verify::AutogradDot dot = verify::autograd_dot(g.make(at::kFloat), g.title);
  const fs::path dot_path = source("docs/graph/" + arch + ".dot"), svg_path = source("docs/graph/" + arch + ".svg");
  EXPECT_EQ(read(dot_path), dot.dot) << dot_path << " is out of date: run scripts/graphs.sh";
  EXPECT_NE(read(svg_path).find(verify::source_hash_tag(dot.source_hash)), std::string::npos)
      << svg_path << " was not rendered from today's graph (" << verify::source_hash_tag(dot.source_hash)
      << "): run scripts/graphs.sh";
  if (arch == "mlp") {  // the four places where a tensor feeds two operations (issue 13)
    EXPECT_EQ(std::set<std::string>(dot.forks.begin(), dot.forks.end()),
              (std::set<std::string>{"logits", "counts", "hprebn", "bndiff"}));
  }
}

// Every registered model has its picture.
std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const models::Model* m : models::all()) names.push_back(m->name());
  return names;
}
INSTANTIATE_TEST_SUITE_P(Docs, GraphFreshness, ::testing::ValuesIn(model_names()));

}  // namespace
}  // namespace bpn
