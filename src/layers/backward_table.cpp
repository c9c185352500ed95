#include "layers/backward_table.h"

#include "layers/batchnorm1d.h"
#include "layers/cross_entropy.h"
#include "layers/embedding.h"
#include "layers/flatten_consecutive.h"
#include "layers/linear.h"
#include "layers/recurrent.h"
#include "layers/sequential.h"
#include "layers/tanh.h"

namespace bpn::layers {

const BackwardTable& hand_derived() {
  static const BackwardTable table{embedding_backward,
                                   flatten_consecutive_backward,
                                   linear_backward,
                                   batchnorm1d_backward,
                                   tanh_backward,
                                   cross_entropy_backward,
                                   sequential_backward,
                                   layernorm_backward,
                                   gelu_backward,
                                   softmax_backward,
                                   attention_scores_backward,
                                   attention_values_backward,
                                   residual_backward,
                                   position_embedding_backward,
                                   masked_cross_entropy_backward,
                                   concat_backward,
                                   sigmoid_backward,
                                   product_backward,
                                   blend_backward,
                                   start_state_backward,
                                   rnn_cell_backward,
                                   gru_cell_backward,
                                   bptt_backward};
  return table;
}

}  // namespace bpn::layers
