// This model's part of the mutation catalog (verify/mutants.h); models::mutant_catalog() gathers every part.
#pragma once

#include <vector>

#include "verify/mutants.h"

namespace bpn::models {

std::vector<verify::Mutant> wavenet_mutants();

}  // namespace bpn::models
