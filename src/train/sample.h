#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace bpn::train {

// The notebook's sampling loop for any model: start from an all-'.' context, softmax over the
// logits, draw the next character with torch.multinomial from a generator seeded `seed`, stop at '.'.
// Names are returned without the final '.'; a name that reaches `max_length` characters without a
// '.' is cut there. `logits` maps contexts [1, block_size] to logits [1, V].
std::vector<std::string> sample_with(const std::function<at::Tensor(const at::Tensor&)>& logits,
                                     const data::Vocab& vocab, std::int64_t block_size, std::int64_t count,
                                     std::uint64_t seed, std::int64_t max_length = 200);

}  // namespace bpn::train
