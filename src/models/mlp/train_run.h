// `bpninja train --arch mlp`: Exercise 4, the lecture's MLP trained with the hand-derived backward
// only, on the raw-memory kernel (kernel/mlp_kernel.h) or, with --path ops, the tensor-op step.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "models/options.h"

namespace bpn::cli {

struct MlpTrainArgs {
  std::string data;
  std::int64_t steps = 200000;
  std::int64_t verify_every = 0;
  std::int64_t checkpoint_every = 10000;
  std::int64_t threads = 1;
  std::string out, json, resume;
  std::string path = "auto";  // --path kernel|ops
};

// The run the options describe (--lr, --n-hidden, ... as models/mlp/model.cpp declares them).
int run_mlp_train(const Options& o, std::ostream& out, std::ostream& err);

}  // namespace bpn::cli
