#include "models/rnn/check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <memory>

#include "util/errors.h"
#include "verify/numeric.h"

namespace bpn::verify {

namespace {
struct RecurrentSetup {
  models::RecurrentLM model;
  at::Tensor X, Y;
  nlohmann::json config;
  std::int64_t dev_words = 0, test_words = 0;
};

RecurrentSetup recurrent_setup(const data::Dataset& data, const RecurrentCheckConfig& cfg) {
  if (cfg.batch_size < 1) throw InputError("--batch-size must be at least 1");
  models::RecurrentConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = data::sequence_length(data);
  at::Generator g = at::detail::createCPUGenerator(mc.seed);
  RecurrentSetup s{models::RecurrentLM(mc, g), {}, {}, mc.to_json(), 0, 0};
  const data::SequenceBatch b = data::draw_check_batch(data, cfg.batch_size, g);
  s.X = b.X;
  s.Y = b.Y;
  s.config["batch_size"] = cfg.batch_size;
  s.config["train_words"] = b.train_words;
  s.dev_words = b.dev_words;
  s.test_words = b.test_words;
  return s;
}

GraphFactory recurrent_factory(const RecurrentSetup& s, const layers::BackwardTable* table) {
  auto shared = std::make_shared<RecurrentSetup>(s);
  return [shared, table](at::ScalarType dtype) {
    auto copy = std::make_shared<models::RecurrentLM>(shared->model, dtype);
    copy->table = table;
    GraphRun run;
    for (auto& [name, t] : copy->parameters()) {
      t->set_requires_grad(true);
      run.parameters.emplace_back(name, *t);
    }
    run.loss = copy->forward(shared->X, shared->Y, &run.intermediates);
    run.manual_backward = [copy] { return copy->backward(); };
    run.forward = [copy, shared] { return copy->forward(shared->X, shared->Y); };
    return run;
  };
}
}  // namespace

// Each bias's gradient sums its pre-activation's gradient over the B rows of every position, which
// nearly cancels where they disagree in sign: its rounding scale is that sum's (verdict.h), computed
// from the recorded outputs and their float64 autograd gradients. The start state's gradient sums
// dh_{-1} over the batch in the same way; it is not recorded, so its terms are the first step's
// (dh_0 through the cell is what reaches it).
NoiseScales recurrent_noise_scales(models::Cell cell) {
  return [cell](const GraphRun& run64, const std::map<std::string, at::Tensor>& g64) {
    std::map<std::string, double> scales;
    std::map<std::string, at::Tensor> value;
    for (const auto& [name, t] : run64.intermediates) value[name] = t.detach();
    auto rows = [](const at::Tensor& g) { return g.reshape({-1, g.size(-1)}); };
    const auto logits = g64.find("logits");
    if (logits != g64.end()) scales["lm_head.bias"] = sum_noise_scale(rows(logits->second), 0);
    // the pre-activation gradient of each gate over every position: out' (tanh: 1 - out^2; sigmoid:
    // out (1 - out)) times the output's gradient
    auto pre = [&](const std::string& out, bool sigmoid) {
      std::vector<at::Tensor> terms;
      for (std::int64_t t = 0;; ++t) {
        const std::string name = "t" + std::to_string(t) + "." + out;
        const auto g = g64.find(name);
        if (g == g64.end() || !value.count(name)) break;
        const at::Tensor y = value.at(name);
        terms.push_back(g->second * (sigmoid ? y * (1 - y) : 1 - y * y));
      }
      return terms.empty() ? at::Tensor() : at::cat(terms, 0);
    };
    const std::vector<std::pair<std::string, std::pair<std::string, bool>>> biases =
        cell == models::Cell::kGru
            ? std::vector<std::pair<std::string, std::pair<std::string, bool>>>{{"cell.xh_to_r.bias", {"r", true}},
                                                                                {"cell.xh_to_hbar.bias",
                                                                                 {"hbar", false}},
                                                                                {"cell.xh_to_z.bias", {"z", true}}}
            : std::vector<std::pair<std::string, std::pair<std::string, bool>>>{{"cell.xh_to_h.bias", {"h", false}}};
    for (const auto& [bias, out] : biases) {
      const at::Tensor terms = pre(out.first, out.second);
      if (terms.defined()) scales[bias] = sum_noise_scale(terms, 0);
    }
    const auto h0 = g64.find("t0.h");
    if (h0 != g64.end()) scales["start"] = sum_noise_scale(h0->second, 0);
    return scales;
  };
}

GraphFactory recurrent_graph_factory(const data::Dataset& data, const RecurrentCheckConfig& cfg) {
  return recurrent_factory(recurrent_setup(data, cfg), cfg.table);
}

CheckReport run_recurrent_check(const data::Dataset& data, const RecurrentCheckConfig& cfg) {
  const RecurrentSetup s = recurrent_setup(data, cfg);
  CheckReport r;
  r.env = current_environment(cfg.dtype, at::kCPU);
  r.config = s.config;
  r.train_rows = s.config["train_words"];  // words (sequences), not context windows
  r.dev_rows = s.dev_words;
  r.test_rows = s.test_words;
  const GraphComparison cmp =
      compare_graph(recurrent_factory(s, cfg.table), cfg.dtype, recurrent_noise_scales(cfg.model.cell));
  r.loss = cmp.loss;
  const std::string what = cfg.model.cell == models::Cell::kGru
                               ? "GRU: every gate and hidden state of every position (backpropagation through time) "
                                 "and every parameter"
                               : "RNN: every hidden state of every position (backpropagation through time) and every "
                                 "parameter";
  r.exercises.push_back({1, what, cmp.rows});
  return r;
}

GradcheckReport run_recurrent_gradcheck(const data::Dataset& data, const RecurrentCheckConfig& cfg) {
  const auto s = std::make_shared<RecurrentSetup>(recurrent_setup(data, cfg));
  // Central differences for the parameters; the intermediates are checked against autograd by `check`
  // and here through the parameters they feed.
  return parameter_gradcheck(s->model.config.arch() + " parameters", recurrent_factory(*s, cfg.table), cfg.dtype);
}

std::map<std::string, std::set<std::string>> recurrent_known_rows(const nlohmann::json& config) {
  models::RecurrentConfig mc;
  mc.cell = config.value("arch", std::string("rnn")) == "gru" ? models::Cell::kGru : models::Cell::kRnn;
  mc.vocab_size = config.value("vocab_size", mc.vocab_size);
  mc.block_size = config.value("block_size", mc.block_size);
  mc.n_embd = config.value("n_embd", mc.n_embd);
  mc.n_embd2 = config.value("n_embd2", mc.n_embd2);
  at::Generator g = at::detail::createCPUGenerator(0);
  models::RecurrentLM net(mc, g);
  std::set<std::string> names = {"emb", "logits"};
  for (std::int64_t t = 0; t < mc.block_size; ++t) {
    for (const std::string& n : models::step_intermediates(mc.cell)) names.insert("t" + std::to_string(t) + "." + n);
  }
  for (const auto& [n, t] : net.parameters()) names.insert(n);
  // exercise2: `check`'s training step: the same rows and the updates
  std::set<std::string> step = names;
  for (const auto& [n, t] : net.parameters()) step.insert("step:" + n);
  return {{"exercise1", names}, {"exercise2", step}};
}

}  // namespace bpn::verify
