// The mutation catalog: every mutant must be caught where its class says it can be seen (check with
// the ledger for a last-bit change; the float64 verdict for a 1e-6 scale; the verdict in both dtypes,
// without the ledger, for everything else; --verify-every for the functions the training step runs),
// and an equivalent mutant must be caught nowhere (else its stated reason is wrong).
#include "verify/mutants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "models/mlp/check.h"
#include "models/registry.h"
#include "support/names.h"
#include "verify/mutation_run.h"

namespace bpn::verify {
namespace {

using models::mutant_catalog;

// The data set at each registered model's block size, loaded once.
std::map<std::int64_t, data::Dataset> datasets() {
  std::map<std::int64_t, data::Dataset> data;
  for (const models::Model* m : models::all()) {
    if (!data.count(m->block_size()))
      data.emplace(m->block_size(), data::load_dataset(bpn::testing::names_path(), m->block_size()));
  }
  return data;
}

MutantResult run(const Mutant& m, const std::map<std::int64_t, data::Dataset>& data, const Ledger& ledger) {
  const models::Model& model = models::named(m.arch);
  return run_mutant(m, model.mutant_hooks(m, data.at(model.block_size())), ledger);
}

// One test for the whole catalog (each gtest is its own process under ctest, and loading LibTorch and
// the data set per mutant cost minutes on CI); every failure names its mutant.
TEST(MutationCatalog, EveryMutantIsCaughtWhereItCanBeSeen) {
  BPN_REQUIRE_NAMES(d);
  const Ledger ledger = Ledger::load(bpn::testing::bpninja_ledger_path());
  (void)d;
  const auto data = datasets();
  for (const Mutant& m : mutant_catalog()) {
    const MutantResult r = run(m, data, ledger);
    const Expectation e = m.expect();
    SCOPED_TRACE(m.name + " [" + bug_class_name(m.bug) + "] evidence: " + r.evidence);
    // A check that throws is not a catch: the verdict must see the bug (a user would get exit 3)
    EXPECT_TRUE(r.threw.empty()) << "a check threw: " << r.threw;
    if (!m.equivalent.empty()) {
      std::cout << "[ equivalent ] " << m.name << ": " << m.equivalent << "\n";
      EXPECT_FALSE(r.caught_anywhere()) << "an equivalent mutant was caught: its reason is stale";
      continue;
    }
    if (e.check_ledger) {
      EXPECT_TRUE(r.ledger_found) << "the ledger has no entry for the check's configuration";
      EXPECT_TRUE(r.check_ledger_f32) << "check float32 with the ledger";
      EXPECT_TRUE(r.check_ledger_f64) << "check float64 with the ledger";
    }
    if (e.check_f32) {
      EXPECT_TRUE(r.check_f32) << "check float32, accuracy rule alone";
    }
    if (e.check_f64) {
      EXPECT_TRUE(r.check_f64) << "check float64, accuracy rule alone";
    }
    if (e.verify_f32) {
      EXPECT_TRUE(r.verify_f32) << "--verify-every, float32";
    }
    if (e.verify_f64) {
      EXPECT_TRUE(r.verify_f64) << "--verify-every, float64";
    }
  }
}

// A mutant only the ledger's exactness can see (a last-bit change), checked where the ledger has no entry
// for the configuration: the result says the ledger found none (bpninja mutants then prints "no ledger"
// and why, not MISSED), and nothing is caught; with the project's ledger, it has one and catches it.
TEST(MutationCatalog, ALedgerOnlyMutantSaysWhetherTheLedgerHadAnEntry) {
  BPN_REQUIRE_NAMES(d);
  (void)d;
  const auto only_the_ledger_sees = [](const Mutant& m) {
    return m.arch == "mlp" && !m.kernel && m.equivalent.empty() && m.expect().check_ledger;
  };
  const auto& catalog = mutant_catalog();
  const auto it = std::find_if(catalog.begin(), catalog.end(), only_the_ledger_sees);
  ASSERT_NE(it, catalog.end()) << "no MLP mutant that only the ledger can see";
  const auto data = datasets();
  const MutantResult without = run(*it, data, Ledger{});
  EXPECT_FALSE(without.ledger_found) << it->name;
  EXPECT_FALSE(without.check_ledger_f32 || without.check_ledger_f64) << it->name;
  const MutantResult with = run(*it, data, Ledger::load(bpn::testing::bpninja_ledger_path()));
  EXPECT_TRUE(with.ledger_found) << it->name;
  EXPECT_TRUE(with.check_ledger_f32 && with.check_ledger_f64) << it->name << ": " << with.evidence;
}

TEST(MutationCatalog, CoversEveryFunctionOfTheTableWithRealisticClasses) {
  std::set<std::string> functions;
  std::set<BugClass> classes;
  for (const Mutant& m : mutant_catalog()) {
    functions.insert(m.function);
    classes.insert(m.bug);
  }
  EXPECT_GE(mutant_catalog().size(), 40u);
  for (const char* fn : {"loss_backward",
                         "logprobs_backward",
                         "probs_backward",
                         "counts_sum_inv_backward",
                         "counts_sum_backward",
                         "counts_backward",
                         "norm_logits_backward",
                         "logit_maxes_backward",
                         "logits_backward",
                         "h_backward",
                         "hpreact_backward",
                         "bnraw_backward",
                         "bnvar_inv_backward",
                         "bnvar_backward",
                         "bndiff2_backward",
                         "bndiff_backward",
                         "bnmeani_backward",
                         "hprebn_backward",
                         "embcat_backward",
                         "emb_backward",
                         "fork_backward",
                         "cross_entropy_backward",
                         "cross_entropy_backward_ops",
                         "batchnorm_layer_backward",
                         "batchnorm_layer_backward_ops",
                         "batchnorm_forward",
                         "sgd_update",
                         "embedding_backward",
                         "flatten_consecutive_backward",
                         "linear_backward",
                         "batchnorm1d_backward",
                         "tanh_backward",
                         "sequential_backward",
                         "layernorm_backward",
                         "gelu_backward",
                         "softmax_backward",
                         "attention_scores_backward",
                         "attention_values_backward",
                         "residual_backward",
                         "position_embedding_backward",
                         "masked_cross_entropy_backward",
                         "concat_backward",
                         "sigmoid_backward",
                         "product_backward",
                         "blend_backward",
                         "start_state_backward",
                         "rnn_cell_backward",
                         "gru_cell_backward",
                         "bptt_backward"}) {
    EXPECT_TRUE(functions.count(fn)) << "no mutant in " << fn;
  }
  EXPECT_EQ(classes.size(), 14u) << "every bug class has at least one mutant";
  std::map<std::string, int> layer_mutants;  // non-equivalent mutants per layer function
  for (const Mutant& m : mutant_catalog())
    layer_mutants[m.function] += m.arch != models::all().front()->name() && m.equivalent.empty() ? 1 : 0;
  for (const char* fn : {"embedding_backward",
                         "flatten_consecutive_backward",
                         "linear_backward",
                         "batchnorm1d_backward",
                         "tanh_backward",
                         "sequential_backward",
                         "layernorm_backward",
                         "gelu_backward",
                         "softmax_backward",
                         "attention_scores_backward",
                         "attention_values_backward",
                         "residual_backward",
                         "position_embedding_backward",
                         "masked_cross_entropy_backward",
                         "concat_backward",
                         "sigmoid_backward",
                         "product_backward",
                         "blend_backward",
                         "start_state_backward",
                         "rnn_cell_backward",
                         "gru_cell_backward",
                         "bptt_backward"}) {
    EXPECT_GE(layer_mutants[fn], 3) << fn << " (at least 3 mutants per new backward function)";
  }
}

// The unmutated tables pass every check the mutants are run through: for every model, an identity
// mutant (nothing injected), and one for its kernel if it has kernel mutants.
TEST(MutationCatalog, TheHandDerivedTableIsCaughtNowhere) {
  BPN_REQUIRE_NAMES(d);
  (void)d;
  const Ledger ledger = Ledger::load(bpn::testing::bpninja_ledger_path());
  const auto data = datasets();
  int identities = 0;
  for (const models::Model* model : models::all()) {
    const auto mutants = model->mutants();
    const bool has_kernel = std::any_of(mutants.begin(), mutants.end(), [](const Mutant& m) { return m.kernel; });
    for (const bool kernel : {false, true}) {
      if (kernel && !has_kernel) continue;
      Mutant identity{"identity", "none", BugClass::kSign, true, "", "", model->name(), "", kernel, {}};
      const MutantResult r = run(identity, data, ledger);
      EXPECT_FALSE(r.caught_anywhere()) << model->name() << (kernel ? " (kernel)" : "") << ": " << r.evidence;
      EXPECT_TRUE(r.threw.empty()) << r.threw;
      ++identities;
    }
  }
  EXPECT_GE(identities, static_cast<int>(models::all().size()) + 1);
}

}  // namespace
}  // namespace bpn::verify
