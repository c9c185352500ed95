// The mutation catalog: realistic bugs in every hand-derived function, each injected through the
// table of backward functions its model's code reads, one at a time, with the unchanged drivers. Each
// model writes its own (models/<name>/mutants.cpp); models::mutant_catalog() gathers them;
// verify/mutation_run.h runs one through every check, tests/verify/mutants_test.cpp asserts that each
// is caught where it can be seen, and `bpninja mutants` prints the table (docs/mutation-testing.md).
#pragma once

#include <ATen/ATen.h>

#include <any>
#include <functional>
#include <string>

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
  std::string arch;            // the model whose checks and training step run it (models/model.h)
  std::string label;           // its mark in the mutation table: "[WaveNet] ", "[kernel] ", or none
  // A piece of a raw-memory training kernel, float32 only: seen by check's kernel rows and by
  // `train --verify-every` of a float32 run (the kernel's step against autograd), not by the ledger.
  bool kernel = false;
  std::any inject;  // a std::function<void(Table&)> for the table its model reads; see mutated()
  Expectation expect() const;
};

// A copy of `table` (the hand-derived one) with m injected, when m's injection is for a Table.
template <typename Table>
Table mutated(const Mutant& m, Table table) {
  if (const auto* f = std::any_cast<std::function<void(Table&)>>(&m.inject)) (*f)(table);
  return table;
}

// Realistic bugs share two shapes: the whole tensor 1e-6 too large (relative), and one element moved
// by one unit in the last place (the first element, away from zero).
at::Tensor scaled(const at::Tensor& t);
at::Tensor one_ulp(const at::Tensor& t);
// 0 .. n-1 for targets Yb [n]: the row index of each target, to gather or scatter per row.
at::Tensor rows_of(const at::Tensor& Yb);

}  // namespace bpn::verify
