// docs/derivations.md, where each row of `bpninja check` is derived: each model says which section
// (models::Model::derivation_anchor). The MLP's Exercise 1 rows link the function that computes the
// gradient (dlogprobs: loss_backward, dh: logits_backward, as the summary table lists them); the layer
// models' rows link the section of the layer the tensor belongs to (linear2.weight, linear2:
// linear_backward). The doc test checks that every row of every ledger configuration gets an anchor
// that exists, and that Exercise 1's anchors match the summary table.
#pragma once

#include <string>

namespace bpn::verify {

inline constexpr const char* kDerivationsPath = "docs/derivations.md";

}  // namespace bpn::verify
