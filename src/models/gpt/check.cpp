#include "models/gpt/check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <memory>

#include "util/errors.h"
#include "verify/graph.h"
#include "verify/numeric.h"

namespace bpn::verify {

namespace {
struct Setup {
  models::GPT model;
  at::Tensor X, Y;
  nlohmann::json config;
  std::int64_t dev_words = 0, test_words = 0;
};

Setup setup(const data::Dataset& data, const GPTCheckConfig& cfg) {
  if (cfg.batch_size < 1) throw InputError("--batch-size must be at least 1");
  models::GPTConfig mc = cfg.model;
  mc.vocab_size = data.vocab.size();
  mc.block_size = sequence_length(data);
  at::Generator g = at::detail::createCPUGenerator(mc.seed);
  Setup s{models::GPT(mc, g), {}, {}, mc.to_json(), 0, 0};
  const data::SequenceBatch b = data::draw_check_batch(data, cfg.batch_size, g);
  s.X = b.X;
  s.Y = b.Y;
  s.config["batch_size"] = cfg.batch_size;
  s.config["train_words"] = b.train_words;
  s.dev_words = b.dev_words;
  s.test_words = b.test_words;
  return s;
}
GraphFactory gpt_factory(const Setup& s, const layers::BackwardTable* table) {
  auto shared = std::make_shared<Setup>(s);
  return [shared, table](at::ScalarType dtype) {
    auto copy = std::make_shared<models::GPT>(shared->model, dtype);
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

// Every bias's gradient is a sum over the B*T rows of its output's gradient, which nearly cancels
// where the rows disagree in sign: its rounding scale is that sum's (verdict.h, sum_noise_scale), as
// the MLP's b1 has. (Found by the sweep: float64, n_embd 2, ln_1.bias, error 3.1e-16 against a bound
// of 2.0e-16 drawn from the gradient's tiny value alone.)
NoiseScales gpt_noise_scales(std::int64_t n_embd) {
  return [C = n_embd](const GraphRun& run64, const std::map<std::string, at::Tensor>& g64) {
    std::map<std::string, double> scales;
    auto grad = [&](const std::string& name) {
      const auto it = g64.find(name);
      return it == g64.end() ? at::Tensor() : it->second;
    };
    auto rows = [](const at::Tensor& g) { return g.reshape({-1, g.size(-1)}); };
    auto heads_merged = [C](const at::Tensor& g) { return g.transpose(1, 2).reshape({-1, C}); };  // [B,nh,T,hs]
    for (const auto& [name, t] : run64.parameters) {
      const auto dot = name.rfind(".bias");
      if (dot == std::string::npos || dot + 5 != name.size()) continue;
      const std::string layer = name.substr(0, dot);                   // "h0.ln_1", "h0.attn.c_proj", "ln_f"
      const std::string block = layer.substr(0, layer.find('.') + 1);  // "h0." ("" for ln_f)
      // the recorded output whose gradient the bias's gradient sums
      const std::string out = layer == "ln_f" || layer == block + "ln_1" || layer == block + "ln_2" ? layer
                              : layer == block + "attn.c_proj"                                      ? block + "attn_out"
                              : layer == block + "mlp.c_fc"                                         ? block + "fc"
                              : layer == block + "mlp.c_proj"                                       ? block + "mlp_out"
                                                                                                    : "";
      if (!out.empty()) {
        const at::Tensor g = grad(out);
        if (g.defined()) scales[name] = sum_noise_scale(rows(g), 0);
      } else if (layer == block + "attn.c_attn") {  // q, k and v side by side
        const at::Tensor q = grad(block + "q"), k = grad(block + "k"), v = grad(block + "v");
        if (q.defined() && k.defined() && v.defined())
          scales[name] = sum_noise_scale(at::cat({heads_merged(q), heads_merged(k), heads_merged(v)}, -1), 0);
      }
    }
    return scales;
  };
}

GraphFactory gpt_graph_factory(const data::Dataset& data, const GPTCheckConfig& cfg) {
  return gpt_factory(setup(data, cfg), cfg.table);
}

CheckReport run_gpt_check(const data::Dataset& data, const GPTCheckConfig& cfg) {
  const Setup s = setup(data, cfg);
  CheckReport r;
  r.env = current_environment(cfg.dtype, at::kCPU);
  r.config = s.config;
  r.train_rows = s.config["train_words"];  // words (sequences), not context windows
  r.dev_rows = s.dev_words;
  r.test_rows = s.test_words;
  const GraphFactory make = gpt_factory(s, cfg.table);
  const GraphComparison cmp = compare_graph(make, cfg.dtype, gpt_noise_scales(cfg.model.n_embd));
  r.loss = cmp.loss;
  r.exercises.push_back(
      {1, "GPT (makemore's Transformer): every intermediate of every block and every parameter", cmp.rows});
  return r;
}

GradcheckReport run_gpt_gradcheck(const data::Dataset& data, const GPTCheckConfig& cfg) {
  const auto s = std::make_shared<Setup>(setup(data, cfg));
  // Central differences for the parameters; the intermediates are checked against autograd by `check`
  // and here through the parameters they feed.
  return parameter_gradcheck("GPT parameters", gpt_factory(*s, cfg.table), cfg.dtype);
}

std::map<std::string, std::set<std::string>> gpt_known_rows(const nlohmann::json& config) {
  models::GPTConfig mc;
  mc.vocab_size = config.value("vocab_size", mc.vocab_size);
  mc.block_size = config.value("block_size", mc.block_size);
  mc.n_layer = config.value("n_layer", mc.n_layer);
  mc.n_head = config.value("n_head", mc.n_head);
  mc.n_embd = config.value("n_embd", mc.n_embd);
  at::Generator g = at::detail::createCPUGenerator(0);
  models::GPT net(mc, g);
  std::set<std::string> names = {"emb", "ln_f", "logits"};
  for (std::int64_t l = 0; l < mc.n_layer; ++l) {
    for (const char* n :
         {"ln_1", "q", "k", "v", "att", "probs", "y", "attn_out", "res1", "ln_2", "fc", "gelu", "mlp_out", "res2"}) {
      names.insert("h" + std::to_string(l) + "." + n);
    }
  }
  for (const auto& [n, t] : net.parameters()) names.insert(n);
  // exercise2: `check`'s training step (train::gpt_step_exercise): the same rows and the updates
  std::set<std::string> step = names;
  for (const auto& [n, t] : net.parameters()) step.insert("step:" + n);
  return {{"exercise1", names}, {"exercise2", step}};
}

}  // namespace bpn::verify
