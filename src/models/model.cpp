#include "models/model.h"

#include <exception>

#include "util/errors.h"

namespace bpn::models {

verify::Mutant mutant_named(const Model& model, const std::string& name) {
  const std::vector<verify::Mutant> mutants = model.mutants();
  for (const verify::Mutant& m : mutants) {
    if (m.name == name) return m;
  }
  std::string marked = mutants.empty() ? "" : mutants.front().label;
  while (!marked.empty() && marked.back() == ' ') marked.pop_back();
  throw InputError("--mutant '" + name + "' is not a mutant of --arch " + model.name() +
                   "; `bpninja mutants` lists the catalog" +
                   (marked.empty() ? "" : " (the names marked " + marked + ")"));
}

std::optional<verify::MutantStep> layer_step_verdict(at::ScalarType dtype,
                                                     const std::function<void(const StepJudge& judged)>& run) {
  verify::MutantStep out;
  const std::string where = std::string("--verify-every ") + (dtype == at::kDouble ? "float64" : "float32");
  try {
    run([&](const train::StepCheck& c) {
      if (c.pass) return;
      out.caught = true;
      if (out.evidence.empty()) out.evidence = where + ": " + c.detail;
    });
  } catch (const std::exception&) {
    if (!out.caught) throw;  // a step that throws after its verdict failed was caught
  }
  return out;
}

}  // namespace bpn::models
