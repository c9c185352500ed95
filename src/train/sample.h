#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/checkpoint.h"

namespace bpn::train {

// The notebook's sampling loop: start from an all-'.' context, softmax over the logits (BatchNorm
// with the calibrated statistics), draw the next character with torch.multinomial from a generator
// seeded `seed`, stop at '.'. Names are returned without the final '.'; a name that reaches
// `max_length` characters without a '.' is cut there.
std::vector<std::string> sample_names(const Checkpoint& checkpoint, std::int64_t count, std::uint64_t seed,
                                      std::int64_t max_length = 200);

}  // namespace bpn::train
