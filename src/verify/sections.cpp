#include "verify/sections.h"

#include <map>

#include "verify/check.h"

namespace bpn::verify {

namespace {

// Exercise 1: d<row> is returned by this function (model/backward.h: `<x>_backward(d<x>, ...)` returns
// the gradients of x's inputs). Where gradients add at a fork, the later of the two in the chain.
const std::map<std::string, std::string>& exercise1_anchors() {
  static const std::map<std::string, std::string> m = {
      {"logprobs", "loss_backward"},
      {"probs", "logprobs_backward"},
      {"counts_sum_inv", "probs_backward"},
      {"counts_sum", "counts_sum_inv_backward"},
      {"counts", "counts_sum_backward"},
      {"norm_logits", "counts_backward"},
      {"logit_maxes", "norm_logits_backward"},
      {"logits", "logit_maxes_backward"},
      {"h", "logits_backward"},
      {"W2", "logits_backward"},
      {"b2", "logits_backward"},
      {"hpreact", "h_backward"},
      {"bngain", "hpreact_backward"},
      {"bnbias", "hpreact_backward"},
      {"bnraw", "hpreact_backward"},
      {"bnvar_inv", "bnraw_backward"},
      {"bnvar", "bnvar_inv_backward"},
      {"bndiff2", "bnvar_backward"},
      {"bndiff", "bndiff2_backward"},
      {"bnmeani", "bndiff_backward"},
      {"hprebn", "bnmeani_backward"},
      {"embcat", "hprebn_backward"},
      {"W1", "hprebn_backward"},
      {"b1", "hprebn_backward"},
      {"emb", "embcat_backward"},
      {"C", "emb_backward"},
  };
  return m;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "h3.attn.c_attn.weight" -> "attn.c_attn.weight"; "h0.q" -> "q"
std::string strip_block(const std::string& row) {
  if (row.size() > 1 && row[0] == 'h' && std::isdigit(static_cast<unsigned char>(row[1]))) {
    const auto dot = row.find('.');
    if (dot != std::string::npos) return row.substr(dot + 1);
  }
  return row;
}

std::string gpt_anchor(const std::string& full) {
  const std::string row = strip_block(full);
  if (row == "logits" || starts_with(row, "lm_head")) return "linear_backward";  // lm_head
  if (starts_with(row, "ln_")) return "layernorm_backward";                      // ln_1, ln_2, ln_f (+ .weight/.bias)
  if (row == "res1" || row == "res2") return "residual_backward";
  if (row == "gelu") return "gelu_backward";
  if (row == "fc" || row == "mlp_out" || row == "attn_out" || starts_with(row, "mlp.") || starts_with(row, "attn.c_"))
    return "linear_backward";
  if (row == "q" || row == "k" || row == "v") return "linear_backward";  // c_attn's output, split in three
  if (row == "att") return "attention_scores_backward";
  if (row == "probs") return "softmax_backward";
  if (row == "y") return "attention_values_backward";
  if (row == "emb" || row == "wpe") return "position_embedding_backward";
  if (row == "wte") return "embedding_backward";
  return "";
}

std::string wavenet_anchor(const std::string& row) {
  static const std::map<std::string, std::string> kinds = {
      {"embedding", "embedding_backward"}, {"flatten", "flatten_consecutive_backward"},
      {"linear", "linear_backward"},       {"batchnorm", "batchnorm1d_backward"},
      {"tanh", "tanh_backward"},
  };
  std::string kind = row.substr(0, row.find_first_of("0123456789."));
  const auto it = kinds.find(kind);
  return it == kinds.end() ? "" : it->second;
}

}  // namespace

std::string derivation_anchor(const std::string& arch, const std::string& exercise, const std::string& row) {
  if (arch == "wavenet" && starts_with(row, "step:")) return "exercise-4-the-training-step";  // SGD
  if (arch == "gpt" && starts_with(row, "step:")) return "adamw";
  if (arch == "wavenet") return wavenet_anchor(row);
  if (arch == "gpt") return gpt_anchor(row);
  if (arch != "mlp") return "";
  if (exercise == "exercise1") {
    const auto it = exercise1_anchors().find(row);
    return it == exercise1_anchors().end() ? "" : it->second;
  }
  if (exercise == "exercise2") {
    return row == "logits@ops"          ? "cross_entropy_backward_ops"
           : starts_with(row, "logits") ? "cross_entropy_backward"
                                        : "";
  }
  if (exercise == "exercise3") {
    if (row == "hprebn" || row == "hprebn@batch_norm") return "batchnorm_backward";
    if (row == "hprebn@ops") return "batchnorm_layer_backward_ops";
    if (row == "hprebn@unbiased" || row == "hprebn@biased") return "batchnorm_layer_backward";
    return "";
  }
  if (exercise == "exercise4") {
    if (starts_with(row, kKernelRowPrefix)) return "the-training-kernel";
    if (starts_with(row, "forward:") || starts_with(row, "step:")) return "exercise-4-the-training-step";
    return exercise1_anchors().count(row) ? "fused_backward" : "";
  }
  return "";
}

}  // namespace bpn::verify
