#include "models/rnn/rnn.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

#include "layers/transformer.h"
#include "util/errors.h"

namespace bpn::models {

std::string RecurrentConfig::arch() const { return cell == Cell::kGru ? "gru" : "rnn"; }

nlohmann::json RecurrentConfig::to_json() const {
  return {{"arch", arch()},   {"vocab_size", vocab_size}, {"block_size", block_size},
          {"n_embd", n_embd}, {"n_embd2", n_embd2},       {"seed", seed}};
}

std::vector<std::string> step_intermediates(Cell cell) {
  if (cell == Cell::kGru) return {"r", "hprev_reset", "hbar", "z", "h"};
  return {"h"};
}

RecurrentLM::RecurrentLM(const RecurrentConfig& c, at::Generator& g, at::ScalarType dtype) : config(c) {
  if (c.n_embd < 1 || c.n_embd2 < 1) throw InputError("--n-embd and --n-embd2 must be at least 1");
  auto uniform = [&](at::IntArrayRef shape, std::int64_t fan_in) {  // nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    const double k = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return at::rand(shape, g, at::kFloat) * (2 * k) - k;
  };
  const std::int64_t E = c.n_embd, H = c.n_embd2, V = c.vocab_size;
  wte_ = at::randn({V, E}, g, at::kFloat);
  start_ = at::zeros({1, H}, at::kFloat);
  const std::vector<std::string> gates = c.cell == Cell::kGru
                                             ? std::vector<std::string>{"xh_to_r", "xh_to_hbar", "xh_to_z"}
                                             : std::vector<std::string>{"xh_to_h"};
  for (const std::string& gate : gates) {
    cell_.push_back(uniform({E + H, H}, E + H));
    cell_.push_back(uniform({H}, E + H));
    cell_names_.push_back("cell." + gate + ".weight");
    cell_names_.push_back("cell." + gate + ".bias");
  }
  head_w_ = uniform({H, V}, H);
  head_b_ = uniform({V}, H);
  for (auto& [name, t] : parameters()) *t = t->to(dtype);
}

RecurrentLM::RecurrentLM(const RecurrentLM& other, at::ScalarType dtype) : config(other.config), table(other.table) {
  at::Generator g = at::detail::createCPUGenerator(0);
  RecurrentLM fresh(config, g, dtype);
  *this = std::move(fresh);
  table = other.table;
  auto dst = parameters();
  auto src = const_cast<RecurrentLM&>(other).parameters();
  for (std::size_t i = 0; i < dst.size(); ++i) *dst[i].second = src[i].second->detach().to(dtype).clone();
}

std::vector<std::pair<std::string, at::Tensor*>> RecurrentLM::parameters() {
  std::vector<std::pair<std::string, at::Tensor*>> p = {{"wte", &wte_}, {"start", &start_}};
  for (std::size_t i = 0; i < cell_.size(); ++i) p.emplace_back(cell_names_[i], &cell_[i]);
  p.insert(p.end(), {{"lm_head.weight", &head_w_}, {"lm_head.bias", &head_b_}});
  return p;
}

std::int64_t RecurrentLM::numel() {
  std::int64_t n = 0;
  for (auto& [name, t] : parameters()) n += t->numel();
  return n;
}

at::Tensor RecurrentLM::forward(const at::Tensor& idx, const at::Tensor& targets, RecurrentNamed* record) {
  targets_ = targets;
  return layers::masked_cross_entropy_forward(logits(idx, record), targets);
}

at::Tensor RecurrentLM::logits(const at::Tensor& idx, RecurrentNamed* record) {
  const std::int64_t B = idx.size(0), T = idx.size(1);
  if (T > config.block_size) throw InputError("sequence length " + std::to_string(T) + " exceeds block_size");
  auto rec = [&](const std::string& name, const at::Tensor& t) {
    if (record) record->emplace_back(name, t);
  };
  idx_ = idx;
  emb_ = at::embedding(wte_, idx);  // emb = wte[idx]
  rec("emb", emb_);
  at::Tensor h = start_.expand({B, config.n_embd2});
  saved_.assign(static_cast<std::size_t>(T), {});
  std::vector<at::Tensor> hs;
  const bool gru = config.cell == Cell::kGru;
  for (std::int64_t t = 0; t < T; ++t) {
    layers::CellSaved& s = saved_[static_cast<std::size_t>(t)];
    const at::Tensor x = emb_.select(1, t);
    h = gru ? layers::gru_cell_forward(x, h, cell_, &s) : layers::rnn_cell_forward(x, h, cell_, &s);
    const std::string p = "t" + std::to_string(t) + ".";
    if (gru) {
      rec(p + "r", s.r);
      rec(p + "hprev_reset", s.hprev_reset);
      rec(p + "hbar", s.hbar);
      rec(p + "z", s.z);
    }
    rec(p + "h", h);
    hs.push_back(h);
  }
  hidden_ = at::stack(hs, 1);  // [B, T, H]
  logits_ = hidden_.matmul(head_w_) + head_b_;
  rec("logits", logits_);
  return logits_;
}

RecurrentNamed RecurrentLM::backward() {
  at::NoGradGuard no_grad;
  const layers::BackwardTable& t = *table;
  const std::int64_t T = idx_.size(1);
  auto detached = [](const at::Tensor& x) { return x.detach(); };
  RecurrentNamed out;
  const at::Tensor dlogits = t.masked_cross_entropy_backward(detached(logits_), targets_);
  out.emplace_back("logits", dlogits);
  const layers::LinearGrads head = t.linear_backward(dlogits, detached(hidden_), detached(head_w_), true);
  // Under NoGradGuard nothing below is recorded, so the saved tensors and the weights are used as they are
  // (a detached copy of each would cost an allocation per tensor and step).
  const std::vector<at::Tensor>& params = cell_;
  const std::vector<layers::CellSaved>& saved = saved_;
  const bool gru = config.cell == Cell::kGru;
  const layers::BpttGrads bptt = t.bptt_backward(head.dx, [&](std::int64_t step, const at::Tensor& dh) {
    const layers::CellSaved& s = saved[static_cast<std::size_t>(step)];
    return gru ? t.gru_cell_backward(t, dh, s, params) : t.rnn_cell_backward(t, dh, s, params);
  });
  for (std::int64_t step = T; step-- > 0;) {
    const std::string p = "t" + std::to_string(step) + ".";
    out.emplace_back(p + "h", bptt.dh[static_cast<std::size_t>(step)]);
    for (const auto& [name, g] : bptt.steps[static_cast<std::size_t>(step)].inner) out.emplace_back(p + name, g);
  }
  out.emplace_back("emb", bptt.dx);
  out.emplace_back("wte", t.embedding_backward(bptt.dx, idx_, detached(wte_)));
  out.emplace_back("start", t.start_state_backward(bptt.dh0));
  for (std::size_t i = 0; i < cell_names_.size() && i < bptt.dparams.size(); ++i) {
    out.emplace_back(cell_names_[i], bptt.dparams[i]);
  }
  out.emplace_back("lm_head.weight", head.dW);
  out.emplace_back("lm_head.bias", head.db);
  return out;
}

}  // namespace bpn::models
