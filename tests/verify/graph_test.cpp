// compare_graph and the reports built on it cannot pass vacuously (issue 23): a gradient the manual
// backward leaves out, or returns undefined, is a FAIL row named "missing", and a report or a step
// check with no rows fails.
#include "verify/graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "models/mlp/check.h"
#include "models/mlp/trainer.h"

namespace bpn {
namespace {

using verify::NamedTensors;

// loss = sum(tanh(x) * w): one parameter x, one intermediate y = tanh(x). `keep` says which of the two
// manual gradients the backward returns; `undefined` returns dx as an undefined tensor.
verify::GraphFactory tanh_graph(bool keep_dy, bool keep_dx, bool undefined_dx = false) {
  return [=](at::ScalarType dtype) {
    const at::Tensor w = at::cos(at::arange(12, at::kDouble)).reshape({3, 4}).to(dtype);
    at::Tensor x = at::linspace(-2, 2, 12, at::kDouble).reshape({3, 4}).to(dtype).set_requires_grad(true);
    at::Tensor y = at::tanh(x);
    verify::GraphRun run;
    run.parameters = {{"x", x}};
    run.intermediates = {{"y", y}};
    run.loss = (y * w).sum();
    run.manual_backward = [=] {
      NamedTensors g;
      if (keep_dy) g.emplace_back("y", w);
      if (keep_dx) g.emplace_back("x", undefined_dx ? at::Tensor() : w * (1 - y.detach() * y.detach()));
      return g;
    };
    return run;
  };
}

std::vector<verify::Row> judged(const verify::GraphFactory& make) {
  std::vector<verify::Row> rows = verify::compare_graph(make, at::kDouble).rows;
  for (verify::Row& r : rows) verify::judge(r, /*expect_exact=*/false);
  return rows;
}

const verify::Row* find(const std::vector<verify::Row>& rows, const std::string& name) {
  const auto it = std::find_if(rows.begin(), rows.end(), [&](const verify::Row& r) { return r.cmp.name == name; });
  return it == rows.end() ? nullptr : &*it;
}

TEST(CompareGraph, TheCompleteBackwardPassesEveryRow) {
  const auto rows = judged(tanh_graph(true, true));
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) EXPECT_TRUE(r.pass) << r.cmp.name << ": " << r.note;
}

TEST(CompareGraph, AParameterGradientLeftOutIsAFailRowNamedMissing) {
  const auto rows = judged(tanh_graph(true, false));
  const verify::Row* x = find(rows, "x");
  ASSERT_NE(x, nullptr) << "no row for the parameter the manual backward left out";
  EXPECT_FALSE(x->pass);
  EXPECT_NE(x->note.find("missing"), std::string::npos) << x->note;
  EXPECT_TRUE(find(rows, "y")->pass);
}

TEST(CompareGraph, AnIntermediateLeftOutOrAnUndefinedGradientIsMissing) {
  const auto no_y = judged(tanh_graph(false, true));
  ASSERT_NE(find(no_y, "y"), nullptr);
  EXPECT_FALSE(find(no_y, "y")->pass);
  EXPECT_NE(find(no_y, "y")->note.find("missing"), std::string::npos) << find(no_y, "y")->note;
  const auto undefined = judged(tanh_graph(true, true, /*undefined_dx=*/true));
  ASSERT_NE(find(undefined, "x"), nullptr);
  EXPECT_FALSE(find(undefined, "x")->pass);
  EXPECT_NE(find(undefined, "x")->note.find("missing"), std::string::npos) << find(undefined, "x")->note;
  // A backward that returns nothing fails on every row, and has a row for every tensor
  const auto none = judged(tanh_graph(false, false));
  EXPECT_EQ(none.size(), 2u);
  for (const auto& r : none) EXPECT_FALSE(r.pass) << r.cmp.name;
}

TEST(CompareGraph, EmptyReportsAndStepChecksFail) {
  verify::ExerciseReport empty;
  EXPECT_FALSE(empty.pass()) << "an exercise with no rows passed";
  const train::StepCheck none = train::summarize({});
  EXPECT_FALSE(none.pass) << "a step check that compared nothing passed";
  EXPECT_NE(none.detail.find("no gradient"), std::string::npos) << none.detail;
  // and with the missing row, --verify-every's summary fails and names it
  const train::StepCheck missing = train::summarize(verify::compare_graph(tanh_graph(true, false), at::kDouble).rows);
  EXPECT_FALSE(missing.pass);
  EXPECT_NE(missing.detail.find("x: missing"), std::string::npos) << missing.detail;
}

}  // namespace
}  // namespace bpn
