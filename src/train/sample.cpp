#include "train/sample.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include "util/errors.h"

namespace bpn::train {

std::vector<std::string> sample_with(const std::function<at::Tensor(const at::Tensor&)>& logits,
                                     const data::Vocab& vocab, std::int64_t block_size, std::int64_t count,
                                     std::uint64_t seed, std::int64_t max_length) {
  c10::InferenceMode no_autograd;
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < count; ++k) {
    std::vector<std::int64_t> context(static_cast<std::size_t>(block_size), 0);
    std::string name;
    for (std::int64_t length = 0; length < max_length; ++length) {
      const at::Tensor X = at::tensor(context, at::kLong).view({1, block_size});
      const at::Tensor probs = at::softmax(logits(X), 1);
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
