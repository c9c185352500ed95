#include "verify/check.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "model/backward.h"
#include "model/forward.h"
#include "model/params.h"
#include "util/errors.h"

namespace bpn::verify {

namespace {

Row make_row(Comparison c, std::optional<double> maxdiff_limit = std::nullopt) {
  Row row;
  row.cmp = std::move(c);
  row.maxdiff_limit = maxdiff_limit;
  return row;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

ExerciseReport exercise1(const model::Params& p, const model::ChunkedForward& f, const model::Batch& b) {
  ExerciseReport ex{1, "Exercise 1: every step of the chunked forward, backpropagated by hand", {}};
  std::map<std::string, at::Tensor> reference;
  for (const auto& [name, t] : f.intermediates()) reference[name] = t.grad();
  for (const auto& [name, t] : p.named()) reference[name] = t->grad();
  const model::ChunkedGrads grads = model::chunked_backward(p, f, b.Xb, b.Yb);
  for (const auto& [name, manual] : grads.named())
    ex.rows.push_back(make_row(compare(name, manual, reference.at(name))));
  return ex;
}

ExerciseReport exercise2(const model::ChunkedForward& f, const model::Batch& b, double& loss_fast_diff) {
  ExerciseReport ex{2, "Exercise 2: cross-entropy in one go, dlogits = (softmax(logits) - onehot(Yb)) / n", {}};
  const at::Tensor logits = f.logits.detach();
  at::Tensor dlogits;
  {
    at::NoGradGuard no_grad;
    loss_fast_diff = std::fabs(model::cross_entropy_forward(logits, b.Yb).item<double>() - f.loss.item<double>());
    dlogits = model::cross_entropy_backward(logits, b.Yb);
  }
  ex.rows.push_back(make_row(compare("logits", dlogits, f.logits.grad()), kFusedGradLimit));

  // The same closed form against autograd through torch's own cross_entropy.
  at::Tensor leaf = logits.clone().set_requires_grad(true);
  model::cross_entropy_forward(leaf, b.Yb).backward();
  ex.rows.push_back(make_row(compare("logits@cross_entropy", dlogits, leaf.grad())));
  return ex;
}

// Autograd's dhprebn through a one-expression BatchNorm (or at::batch_norm), for upstream dhpreact.
at::Tensor autograd_dhprebn(const model::Params& p, const at::Tensor& hprebn, const at::Tensor& dhpreact,
                            std::optional<model::Variance> variance) {
  at::Tensor leaf = hprebn.detach().clone().set_requires_grad(true);
  at::Tensor out;
  if (variance) {
    out = model::hpreact_fast(leaf, p.bngain.detach(), p.bnbias.detach(), *variance);
  } else {  // torch's batch_norm in training mode normalises with the biased variance
    out = at::batch_norm(leaf, p.bngain.detach().view({-1}), p.bnbias.detach().view({-1}), {}, {},
                         /*training=*/true, /*momentum=*/0.1, model::kBnEps, /*cudnn_enabled=*/false);
  }
  out.backward(dhpreact);
  return leaf.grad();
}

ExerciseReport exercise3(const model::Params& p, const model::ChunkedForward& f, double& hpreact_fast_maxdiff) {
  using model::Variance;
  ExerciseReport ex{3, "Exercise 3: BatchNorm in one go, closed-form dhprebn", {}};
  const at::Tensor hprebn = f.hprebn.detach();
  const at::Tensor dhpreact = f.hpreact.grad();
  {
    at::NoGradGuard no_grad;
    hpreact_fast_maxdiff = max_abs_diff(model::hpreact_fast(hprebn, p.bngain, p.bnbias), f.hpreact);
    // Against the notebook's chunked graph (unbiased variance).
    const at::Tensor dhprebn =
        model::batchnorm_backward(dhpreact, f.bnraw.detach(), f.bnvar_inv.detach(), p.bngain.detach());
    ex.rows.push_back(make_row(compare("hprebn", dhprebn, f.hprebn.grad()), kFusedGradLimit));
  }
  // Both variance conventions, each against autograd through its own one-expression forward.
  for (Variance v : {Variance::kUnbiased, Variance::kBiased}) {
    const at::Tensor reference = autograd_dhprebn(p, hprebn, dhpreact, v);
    at::NoGradGuard no_grad;
    const auto bn = model::batchnorm_forward(hprebn, p.bngain, p.bnbias, v);
    const at::Tensor dhprebn = model::batchnorm_backward(dhpreact, bn.bnraw, bn.bnvar_inv, p.bngain.detach(), v);
    ex.rows.push_back(make_row(compare("hprebn@" + model::variance_name(v), dhprebn, reference), kFusedGradLimit));
  }
  {
    const at::Tensor reference = autograd_dhprebn(p, hprebn, dhpreact, std::nullopt);
    at::NoGradGuard no_grad;
    const auto bn = model::batchnorm_forward(hprebn, p.bngain, p.bnbias, Variance::kBiased);
    const at::Tensor dhprebn =
        model::batchnorm_backward(dhpreact, bn.bnraw, bn.bnvar_inv, p.bngain.detach(), Variance::kBiased);
    ex.rows.push_back(make_row(compare("hprebn@batch_norm", dhprebn, reference), kFusedGradLimit));
  }
  return ex;
}

std::string exercise_key(int number) { return "exercise" + std::to_string(number); }

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

bool ExerciseReport::pass() const {
  for (const auto& r : rows) {
    if (!r.pass) return false;
  }
  return true;
}

Experiment make_experiment(const data::Dataset& data, const CheckConfig& cfg) {
  if (cfg.batch_size < 2) {
    throw InputError("batch size " + std::to_string(cfg.batch_size) +
                     " is too small: BatchNorm's variance divides by n-1, so use a batch of at least 2");
  }
  model::ModelConfig mc;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data.block_size;
  mc.n_embd = cfg.n_embd;
  mc.n_hidden = cfg.n_hidden;
  mc.seed = cfg.seed;
  mc.dtype = cfg.dtype;
  mc.device = cfg.device;
  auto [params, g] = model::init_params(mc);
  model::Batch batch = model::draw_batch(data.train.X, data.train.Y, cfg.batch_size, g, cfg.device);
  return {std::move(params), std::move(batch)};
}

CheckReport run_check(const data::Dataset& data, const CheckConfig& cfg) {
  auto [params, batch] = make_experiment(data, cfg);
  CheckReport r;
  r.env = current_environment(cfg.dtype, cfg.device);
  r.config = {{"vocab_size", data.vocab.size()}, {"block_size", data.block_size}, {"n_embd", cfg.n_embd},
              {"n_hidden", cfg.n_hidden},        {"batch_size", cfg.batch_size},  {"seed", cfg.seed},
              {"train_rows", data.train.rows()}};
  r.train_rows = data.train.rows();
  r.dev_rows = data.dev.rows();
  r.test_rows = data.test.rows();

  const auto ix = batch.ix.contiguous();
  r.ix.assign(ix.data_ptr<std::int64_t>(), ix.data_ptr<std::int64_t>() + ix.numel());

  // Forward, every intermediate retained, then autograd.
  params.set_requires_grad(true);
  model::ChunkedForward f = model::chunked_forward(params, batch.Xb, batch.Yb);
  for (auto& [name, t] : f.intermediates()) t.retain_grad();
  f.loss.backward();
  r.loss = f.loss.item<double>();

  ExerciseReport ex1 = exercise1(params, f, batch);
  ExerciseReport ex2 = exercise2(f, batch, r.loss_fast_diff);
  ExerciseReport ex3 = exercise3(params, f, r.hpreact_fast_maxdiff);
  for (auto* ex : {&ex1, &ex2, &ex3}) {
    if (cfg.exercises.count(ex->number)) r.exercises.push_back(std::move(*ex));
  }
  return r;
}

void apply_expectations(CheckReport& r, const Ledger* ledger) {
  const LedgerEntry* entry = ledger ? ledger->find(r.env, r.config) : nullptr;
  r.ledger_found = entry != nullptr;
  r.ledger_status = entry ? "ledger entry for " + r.env.key() + ": recorded-exact gradients must stay exact"
                          : "no ledger entry for " + r.env.key() + " and this configuration: asserting allclose only";
  bool pass = true;
  for (auto& ex : r.exercises) {
    std::set<std::string> recorded;
    if (entry) {
      const auto it = entry->exact.find(exercise_key(ex.number));
      if (it != entry->exact.end()) recorded = it->second;
    }
    for (auto& row : ex.rows) {
      const auto& c = row.cmp;
      row.expect_exact = recorded.count(c.name) > 0;
      std::vector<std::string> failures;
      if (!c.problem.empty())
        failures.push_back(c.problem);
      else if (!c.allclose)
        failures.push_back("not allclose");
      if (row.expect_exact && !c.exact) failures.push_back("recorded exact in the ledger, no longer bit-equal");
      if (row.maxdiff_limit && !(c.maxdiff <= *row.maxdiff_limit)) {
        failures.push_back("maxdiff above the goal " + fmt("%.0e", *row.maxdiff_limit));
      }
      row.pass = failures.empty();
      row.note.clear();
      for (const auto& f : failures) row.note += (row.note.empty() ? "" : "; ") + f;
      if (row.pass && entry && c.exact && !row.expect_exact) row.note = "newly exact: update the ledger";
      pass = pass && row.pass;
    }
  }
  const bool ex2 = std::any_of(r.exercises.begin(), r.exercises.end(), [](auto& e) { return e.number == 2; });
  const bool ex3 = std::any_of(r.exercises.begin(), r.exercises.end(), [](auto& e) { return e.number == 3; });
  if (ex2 && !(r.loss_fast_diff <= kFastForwardLimit)) pass = false;
  if (ex3 && !(r.hpreact_fast_maxdiff <= kFastForwardLimit)) pass = false;
  r.pass = pass;
}

void record_exactness(const CheckReport& r, Ledger& ledger) {
  for (const auto& ex : r.exercises) {
    std::set<std::string> exact;
    for (const auto& row : ex.rows) {
      if (row.cmp.exact) exact.insert(row.cmp.name);
    }
    ledger.record(r.env, r.config, exercise_key(ex.number), exact);
  }
}

nlohmann::json CheckReport::to_json() const {
  nlohmann::json j;
  j["libtorch"] = env.libtorch;
  j["environment"] = {
      {"libtorch", env.libtorch}, {"cpu_capability", env.cpu_capability}, {"dtype", env.dtype}, {"device", env.device}};
  j["config"] = config;
  j["splits"] = {{"train", train_rows}, {"dev", dev_rows}, {"test", test_rows}};
  j["ix"] = ix;
  j["loss"] = loss;
  j["loss_fast_diff"] = loss_fast_diff;
  j["hpreact_fast_maxdiff"] = hpreact_fast_maxdiff;
  j["ledger"] = {{"found", ledger_found}, {"status", ledger_status}};
  for (const auto& ex : exercises) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : ex.rows) {
      const auto& c = row.cmp;
      nlohmann::json jr = {{"name", c.name},
                           {"shape", c.shape},
                           {"exact", c.exact},
                           {"allclose", c.allclose},
                           {"maxdiff", c.maxdiff},
                           {"exact_fraction", c.exact_fraction},
                           {"max_ulp", c.max_ulp},
                           {"worst_index", c.worst_index},
                           {"manual_at_worst", c.manual_at_worst},
                           {"reference_at_worst", c.reference_at_worst},
                           {"expect_exact", row.expect_exact},
                           {"pass", row.pass},
                           {"note", row.note}};
      if (!c.problem.empty()) jr["problem"] = c.problem;
      if (row.maxdiff_limit) jr["maxdiff_limit"] = *row.maxdiff_limit;
      rows.push_back(jr);
    }
    j[exercise_key(ex.number)] = rows;
  }
  j["pass"] = pass;
  return j;
}

std::string format_report(const CheckReport& r) {
  std::ostringstream os;
  os << "libtorch " << r.env.libtorch << " | cpu capability " << r.env.cpu_capability << " | " << r.env.dtype << " | "
     << r.env.device << "\n";
  os << "splits: train " << r.train_rows << ", dev " << r.dev_rows << ", test " << r.test_rows << " | loss "
     << fmt("%.9g", r.loss) << "\n";
  os << r.ledger_status << "\n";
  for (const auto& ex : r.exercises) {
    os << "\n" << ex.title << "\n";
    if (ex.number == 2) os << "loss_fast - loss: " << fmt("%.3g", r.loss_fast_diff) << " (goal <= 1e-06)\n";
    if (ex.number == 3)
      os << "max |hpreact_fast - hpreact|: " << fmt("%.3g", r.hpreact_fast_maxdiff) << " (goal <= 1e-06)\n";
    char line[512];
    std::snprintf(line, sizeof line, "%-22s | %-5s | %-11s | %-12s | %-9s | %-7s | %-12s | %s\n", "name", "exact",
                  "approximate", "maxdiff", "bit-equal", "max ULP", "worst", "result");
    os << line;
    for (const auto& row : ex.rows) {
      const auto& c = row.cmp;
      std::string result = row.pass ? "ok" : "FAIL";
      if (row.expect_exact) result += " (exact recorded)";
      if (!row.note.empty()) result += ": " + row.note;
      std::snprintf(line, sizeof line, "%-22s | %-5s | %-11s | %-12s | %8.1f%% | %-7llu | %-12s | %s\n", c.name.c_str(),
                    c.exact ? "True" : "False", c.allclose ? "True" : "False", fmt("%.6g", c.maxdiff).c_str(),
                    100.0 * c.exact_fraction, static_cast<unsigned long long>(c.max_ulp),
                    index_string(c.worst_index).c_str(), result.c_str());
      os << line;
    }
  }
  os << "\n" << (r.pass ? "PASS" : "FAIL") << ": every expectation " << (r.pass ? "holds" : "does not hold") << "\n";
  return os.str();
}

}  // namespace bpn::verify
