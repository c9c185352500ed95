// The model interface's entries for this folder (models/model.h): makemore's RNN and GRU, one class
// for both cells; registry.cpp lists each.
#pragma once

#include "models/model.h"

namespace bpn::models {

const Model& rnn_model();
const Model& gru_model();

}  // namespace bpn::models
