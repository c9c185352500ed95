// `bpninja train --arch wavenet`: the WaveNet of makemore part 5, trained with its manual backward.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace bpn::cli {

struct WaveNetTrainArgs {
  std::string data;
  std::int64_t steps = 200000;
  double lr = 0.1, lr_decayed = 0.01;
  std::int64_t decay_step = 150000;
  std::int64_t n_hidden = 128;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 42;
  std::int64_t verify_every = 0;
  std::int64_t threads = 1;
  std::int64_t checkpoint_every = 10000;
  std::string out, json, resume;
  std::string mutant;  // --mutant: a catalog mutant injected into the layer table
};

int run_wavenet_train(const WaveNetTrainArgs& a, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
