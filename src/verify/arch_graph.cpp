#include "verify/arch_graph.h"

#include <memory>

#include "data/dataset.h"
#include "models/mlp/backward_table.h"
#include "util/errors.h"
#include "verify/check.h"
#include "models/gpt/check.h"
#include "models/wavenet/check.h"

namespace bpn::verify {

ArchGraph arch_graph(const std::string& arch, const std::string& data_path, const GPTSizes& gpt) {
  if (arch != "mlp" && arch != "wavenet" && arch != "gpt") {
    throw InputError("--arch must be mlp, wavenet or gpt (got '" + arch + "')");
  }
  const data::Dataset data = data::load_dataset(data_path, /*block_size=*/arch == "wavenet" ? 8 : 3);
  ArchGraph g;
  if (arch == "wavenet") {
    WaveNetCheckConfig wc;
    wc.model.n_hidden = 128;
    wc.model.seed = 42;
    g.make = wavenet_graph_factory(data, wc);
    g.title = "makemore part 5 WaveNet, the check's forward (batch 32, n_embd 24, n_hidden 128)";
  } else if (arch == "gpt") {
    GPTCheckConfig gc;
    gc.model.n_layer = gpt.n_layer;
    gc.model.n_head = gpt.n_head;
    gc.model.n_embd = gpt.n_embd;
    gc.model.seed = 42;
    g.make = gpt_graph_factory(data, gc);
    g.title = "makemore GPT, the check's forward (batch 32, n_layer " + std::to_string(gpt.n_layer) + ", n_head " +
              std::to_string(gpt.n_head) + ", n_embd " + std::to_string(gpt.n_embd) + ")";
  } else {
    const CheckConfig cfg;  // the notebook's configuration
    const Experiment e = make_experiment(data, cfg);
    g.make = chunked_graph_factory(e.params, e.batch, model::hand_derived());
    g.title = "makemore MLP, Exercise 1's chunked forward (n = 32, n_embd 10, H = 64, V = 27)";
  }
  return g;
}

}  // namespace bpn::verify
