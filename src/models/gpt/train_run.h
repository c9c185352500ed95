// `bpninja train --arch gpt`: makemore's Transformer, trained with its manual backward and AdamW by hand.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace bpn::cli {

struct GPTTrainArgs {
  std::string data;
  std::int64_t steps = 5000;
  std::int64_t n_layer = 4, n_head = 4, n_embd = 64;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 42;
  double lr = 5e-4;
  std::int64_t verify_every = 0;
  std::int64_t threads = 1;
  bool twin = false;  // also run the autograd twin and compare val losses
  std::string out, json;
  std::string resume;  // a checkpoint directory; the model, data order and AdamW come from it
  std::int64_t checkpoint_every = 1000;
  std::string mutant;  // --mutant: a catalog mutant injected into the layer table
};

int run_gpt_train(const GPTTrainArgs& a, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
