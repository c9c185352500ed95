// The mutation catalog's generic part: the bug classes and where each must be caught. The mutants
// themselves are the models' (models/<name>/mutants.cpp, gathered by models::mutant_catalog()).
#include "verify/mutants.h"

#include <ATen/ATen.h>

#include <cmath>

namespace bpn::verify {

at::Tensor scaled(const at::Tensor& t) { return t * (1.0 + 1e-6); }

at::Tensor rows_of(const at::Tensor& Yb) { return at::arange(Yb.size(0), Yb.options()); }

at::Tensor one_ulp(const at::Tensor& t) {
  at::Tensor out = t.clone();
  at::Tensor flat = out.view({-1});
  flat.narrow(0, 0, 1).copy_(at::nextafter(flat.narrow(0, 0, 1), flat.narrow(0, 0, 1).sign() * INFINITY));
  return out;
}

std::string bug_class_name(BugClass c) {
  switch (c) {
    case BugClass::kSign:
      return "sign";
    case BugClass::kMissingFactor:
      return "missing factor";
    case BugClass::kMissingTerm:
      return "missing term";
    case BugClass::kWrongDerivative:
      return "wrong derivative";
    case BugClass::kReductionDim:
      return "reduction dim";
    case BugClass::kKeepdim:
      return "keepdim dropped";
    case BugClass::kNoAccumulation:
      return "no accumulation";
    case BugClass::kBessel:
      return "n vs n-1";
    case BugClass::kEpsDropped:
      return "eps dropped";
    case BugClass::kMaxRouting:
      return "max routing";
    case BugClass::kTransposed:
      return "transposed";
    case BugClass::kOneElement:
      return "one row/element";
    case BugClass::kOneUlp:
      return "1 ULP";
    case BugClass::kScale1e6:
      return "1e-6 scale";
  }
  return "?";
}

Expectation Mutant::expect() const {
  Expectation e;
  if (!equivalent.empty()) return e;  // nothing can see it
  if (kernel) {  // float32 only: seen by check's kernel rows (Exercise 4) and the kernel's verified step
    e.check_f32 = e.check_f64 = true;
    e.verify_f32 = true;
    return e;
  }
  if (bug == BugClass::kOneUlp || bug == BugClass::kMaxRouting) {
    e.check_ledger = true;  // the accuracy rule cannot see a last-bit change; exactness can
  } else if (bug == BugClass::kScale1e6) {
    e.check_f64 = true;
    e.verify_f64 = training_step;
  } else {
    e.check_f32 = e.check_f64 = true;
    e.verify_f32 = e.verify_f64 = training_step;
  }
  return e;
}

}  // namespace bpn::verify
