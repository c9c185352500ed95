// `bpninja gradcheck --arch mlp`: three-way verification of the MLP, for both the chunked graph
// (Exercise 1) and the fused one (Exercises 2-4); the report and the criterion: verify/gradcheck.h.
#pragma once

#include "data/dataset.h"
#include "models/mlp/check.h"
#include "verify/gradcheck.h"

namespace bpn::verify {

GradcheckReport run_gradcheck(const data::Dataset& data, const CheckConfig& config);

}  // namespace bpn::verify
