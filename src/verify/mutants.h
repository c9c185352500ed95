// The mutation catalog: realistic bugs in every hand-derived function, each injected through the
// table of backward functions (model/backward_table.h), one at a time, with the unchanged drivers.
// tests/verify/mutants_test.cpp asserts that each one is caught where it can be seen, and
// `bpninja mutants` prints the table of which check catches which mutant (README "Mutation testing").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kernel/mlp_kernel.h"
#include "layers/backward_table.h"
#include "models/mlp/backward_table.h"

namespace bpn::verify {

enum class BugClass {
  kSign,             // a sign flipped
  kMissingFactor,    // a factor left out (or one too many)
  kMissingTerm,      // a term of a sum left out
  kWrongDerivative,  // the local derivative of another function
  kReductionDim,     // summed over the wrong dimension
  kKeepdim,          // keepdim dropped: the gradient has the wrong shape
  kNoAccumulation,   // repeated indices overwrite instead of accumulating
  kBessel,           // n for n-1, or n-1 for n
  kEpsDropped,       // BatchNorm's eps left out
  kMaxRouting,       // the max's gradient routed to the wrong element
  kTransposed,       // a matmul or a reshape with its operands transposed
  kOneElement,       // one row or one element wrong
  kOneUlp,           // the same math rounded differently: a last-bit change
  kScale1e6,         // the whole gradient 1e-6 too large (relative)
};
std::string bug_class_name(BugClass c);

// Where a mutant must be caught. By class: a 1-ULP change by the ledger's exactness (check, both
// dtypes); a 1e-6 scale by the float64 verdict (check, and --verify-every of a float64 run); every
// other class by the verdict without the ledger in both dtypes (check, and --verify-every for the
// functions the training step runs). A mutant may narrow this, with its reason.
struct Expectation {
  bool check_ledger = false;  // check, float32 and float64, with the ledger
  bool check_f32 = false;     // check in float32, accuracy rule only (no ledger)
  bool check_f64 = false;     // check in float64, accuracy rule only (no ledger)
  bool verify_f32 = false;    // train --verify-every, float32 run
  bool verify_f64 = false;    // train --verify-every, float64 run
};

struct Mutant {
  std::string name;      // "h_backward: 1 - h*h rounded twice"
  std::string function;  // the table entry it replaces
  BugClass bug;
  bool training_step = false;  // the function runs in a training step (the MLP's fused step, SGD; every layer function)
  std::string narrowed;        // why the expectation is narrower than the class's, if it is
  std::string equivalent;      // why no check can see it (an equivalent mutant), if so
  std::function<void(model::BackwardTable&)> inject;  // an MLP function (arch "mlp")
  std::string arch = "mlp";  // "wavenet": a layer function, checked on the WaveNet; "gpt": on a small GPT
  std::function<void(layers::BackwardTable&)> inject_layers;
  // "kernel": a piece of the raw-memory training kernel (kernel/mlp_kernel.h), float32 only, so it is
  // seen by `train --verify-every` of a float32 run (the kernel's step against autograd), not by check.
  std::function<void(kernel::KernelTable&)> inject_kernel;
  Expectation expect() const;
};

const std::vector<Mutant>& mutant_catalog();

// A copy of the hand-derived table with the mutant injected.
model::BackwardTable mutated_table(const Mutant& m);
layers::BackwardTable mutated_layers_table(const Mutant& m);
kernel::KernelTable mutated_kernel_table(const Mutant& m);

}  // namespace bpn::verify
