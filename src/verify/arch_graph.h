// The graph `bpninja graph --arch A` draws: the check's forward of each architecture in its default
// configuration (the MLP: the notebook's; the WaveNet and the GPT: the check's defaults, the GPT with
// n_layer blocks), and a title for the picture. The doc test regenerates docs/graph/ with it.
#pragma once

#include <cstdint>
#include <string>

#include "verify/graph.h"

namespace bpn::verify {

struct ArchGraph {
  GraphFactory make;
  std::string title;
};

struct GPTSizes {
  std::int64_t n_layer = 1, n_head = 4, n_embd = 64;
};

// Loads the data set (block size 3 for the MLP, 8 for the WaveNet, the GPT's sequences) from `data_path`.
// Throws bpn::InputError for an unknown arch or bad data.
ArchGraph arch_graph(const std::string& arch, const std::string& data_path, const GPTSizes& gpt = {});

}  // namespace bpn::verify
