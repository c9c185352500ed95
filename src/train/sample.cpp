#include "train/sample.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include "util/errors.h"

namespace bpn::train {

std::vector<std::string> sample_names(const Checkpoint& c, std::int64_t count, std::uint64_t seed,
                                      std::int64_t max_length) {
  if (!c.calibrated()) {
    throw InputError("the checkpoint was written during a run (step " + std::to_string(c.state.step) +
                     ") and has no BatchNorm statistics; finish the run with 'bpninja train --resume DIR' first");
  }
  c10::InferenceMode no_autograd;
  const data::Vocab vocab = data::Vocab::from_chars(c.vocab);
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < count; ++k) {
    std::vector<std::int64_t> context(static_cast<std::size_t>(c.block_size), 0);
    std::string name;
    for (std::int64_t length = 0; length < max_length; ++length) {
      const at::Tensor X = at::tensor(context, at::kLong).view({1, c.block_size});
      const at::Tensor probs = at::softmax(inference_logits(c.state.params, c.bn, X), 1);
      const std::int64_t ix = at::multinomial(probs, 1, /*replacement=*/false, g).item<std::int64_t>();
      if (ix == 0) break;
      context.erase(context.begin());
      context.push_back(ix);
      name += vocab.decode(ix);
    }
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace bpn::train
