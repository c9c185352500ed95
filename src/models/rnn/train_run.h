// `bpninja train --arch rnn|gru`: makemore's recurrent models trained with their backward through time
// and AdamW by hand; the dev loss every 500 steps, as makemore evaluates.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "models/rnn/rnn.h"

namespace bpn::cli {

struct RecurrentTrainArgs {
  models::Cell cell = models::Cell::kRnn;
  std::string data;
  std::int64_t steps = 5000;
  std::int64_t n_embd = 64, n_embd2 = 64;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 42;
  double lr = 5e-4;
  std::int64_t verify_every = 0;
  std::int64_t threads = 1;
  bool twin = false;  // also run the autograd twin and compare dev losses
  std::string out, json;
  std::string resume;
  std::int64_t checkpoint_every = 1000;
  std::string mutant;
};

int run_recurrent_train(const RecurrentTrainArgs& a, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
