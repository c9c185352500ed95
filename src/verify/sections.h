// Where each row of `bpninja check` is derived: the anchor of its section in docs/derivations.md.
// The MLP's Exercise 1 rows link the function that computes the gradient (dlogprobs: loss_backward,
// dh: logits_backward, as the summary table lists them); the layer models' rows link the section of
// the layer the tensor belongs to (linear2.weight, linear2: linear_backward). The doc test checks that
// every row of every ledger configuration gets an anchor that exists, and that Exercise 1's anchors
// match the summary table.
#pragma once

#include <string>

namespace bpn::verify {

// arch: "mlp", "wavenet" or "gpt"; exercise: "exercise1".."exercise4"; row: the row's name.
// Returns the anchor without '#', or "" when the row is unknown.
std::string derivation_anchor(const std::string& arch, const std::string& exercise, const std::string& row);

inline constexpr const char* kDerivationsPath = "docs/derivations.md";

}  // namespace bpn::verify
