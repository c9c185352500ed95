// This folder's part of the mutation catalog (verify/mutants.h): the classic bugs of backpropagation
// through time, the RNN's on the RNN and the GRU's gates on the GRU; models::mutant_catalog() gathers
// every part.
#pragma once

#include <vector>

#include "verify/mutants.h"

namespace bpn::models {

std::vector<verify::Mutant> rnn_mutants();
std::vector<verify::Mutant> gru_mutants();

}  // namespace bpn::models
