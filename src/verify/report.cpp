#include "verify/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "verify/sections.h"

namespace bpn::verify {

namespace {

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// A goal is judged when it applies and its exercise was run.
bool judged(const CheckReport& r, const Goal& g) {
  return g.applies &&
         std::any_of(r.exercises.begin(), r.exercises.end(), [&](const auto& e) { return e.number == g.exercise; });
}

}  // namespace

std::string exercise_key(int number) { return "exercise" + std::to_string(number); }

bool ExerciseReport::pass() const {
  // No rows is no evidence: an empty report fails
  return !rows.empty() && std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass; });
}

void apply_expectations(CheckReport& r, const Ledger* ledger) {
  const LedgerEntry* entry = ledger ? ledger->find(r.env, r.config) : nullptr;
  r.ledger_found = entry != nullptr;
  r.ledger_status = entry ? "ledger entry for " + r.env.key() + ": recorded-exact gradients must stay exact"
                          : "EXACTNESS NOT VERIFIED: no ledger entry for " + r.env.key() +
                                " and this configuration (record one with --record-ledger)";
  bool pass = true;
  for (auto& ex : r.exercises) {
    std::set<std::string> recorded;
    if (entry) {
      const auto it = entry->exact.find(exercise_key(ex.number));
      if (it != entry->exact.end()) recorded = it->second;
    }
    for (auto& row : ex.rows) {
      judge(row, recorded.count(row.cmp.name) > 0);
      if (row.pass && entry && row.cmp.exact && !row.expect_exact) row.note = "newly exact: update the ledger";
      pass = pass && row.pass;
    }
  }
  for (const Goal& g : r.goals) {
    if (judged(r, g) && !(g.value <= g.limit)) pass = false;
  }
  r.pass = pass;
}

std::vector<std::string> CheckReport::failures_besides_exactness() const {
  std::vector<std::string> out;
  for (const auto& ex : exercises) {
    for (const auto& row : ex.rows) {
      Row copy = row;
      judge(copy, /*expect_exact=*/false);
      if (!copy.pass) out.push_back(exercise_key(ex.number) + " " + row.cmp.name + ": " + copy.note);
    }
  }
  for (const Goal& g : goals) {
    if (g.applies && !(g.value <= g.limit)) out.push_back(g.what + " above " + fmt("%g", g.limit));
  }
  return out;
}

bool LedgerDiff::drops_anything() const {
  return std::any_of(dropped.begin(), dropped.end(), [](const auto& kv) { return !kv.second.empty(); });
}

std::string LedgerDiff::describe() const {
  std::ostringstream os;
  if (new_entry) os << "new ledger entry\n";
  for (const auto& [ex, names] : added)
    for (const auto& n : names) os << "+ " << ex << " " << n << " (now bit-exact)\n";
  for (const auto& [ex, names] : dropped)
    for (const auto& n : names) os << "- " << ex << " " << n << " (recorded exact, no longer bit-exact)\n";
  const std::string s = os.str();
  return s.empty() ? "no change\n" : s;
}

LedgerDiff ledger_diff(const CheckReport& r, const Ledger& ledger) {
  LedgerDiff d;
  const LedgerEntry* entry = ledger.find(r.env, r.config);
  d.new_entry = entry == nullptr;
  for (const auto& ex : r.exercises) {
    const std::string key = exercise_key(ex.number);
    std::set<std::string> recorded;
    if (entry && entry->exact.count(key)) recorded = entry->exact.at(key);
    for (const auto& row : ex.rows) {
      const bool was = recorded.count(row.cmp.name) > 0;
      if (row.cmp.exact && !was && !d.new_entry) d.added[key].insert(row.cmp.name);
      if (!row.cmp.exact && was) d.dropped[key].insert(row.cmp.name);
    }
  }
  return d;
}

void record_exactness(const CheckReport& r, Ledger& ledger) {
  for (const auto& ex : r.exercises) {
    std::set<std::string> exact;
    for (const auto& row : ex.rows) {
      if (row.cmp.exact) exact.insert(row.cmp.name);
    }
    ledger.record(r.env, r.config, exercise_key(ex.number), exact);
  }
}

nlohmann::json CheckReport::to_json(const SectionOf& section_of) const {
  nlohmann::json j;
  j["libtorch"] = env.libtorch;
  j["environment"] = {
      {"libtorch", env.libtorch}, {"cpu_capability", env.cpu_capability}, {"dtype", env.dtype}, {"device", env.device}};
  j["config"] = config;
  j["splits"] = {{"train", train_rows}, {"dev", dev_rows}, {"test", test_rows}};
  j["ix"] = ix;
  j["loss"] = loss;
  for (const Goal& g : goals) j[g.key] = g.value;
  for (const auto& [key, value] : extra.items()) j[key] = value;
  j["ledger"] = {{"found", ledger_found}, {"status", ledger_status}};
  for (const auto& ex : exercises) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : ex.rows) {
      const auto& c = row.cmp;
      const auto& a = row.accuracy;
      nlohmann::json jr = {{"name", c.name},
                           {"shape", c.shape},
                           {"exact", c.exact},
                           {"allclose", c.allclose},
                           {"maxdiff", c.maxdiff},
                           {"exact_fraction", c.exact_fraction},
                           {"max_ulp", c.max_ulp},
                           {"worst_index", c.worst_index},
                           {"manual_at_worst", c.manual_at_worst},
                           {"reference_at_worst", c.reference_at_worst},
                           {"accuracy",
                            {{"error", a.error},
                             {"autograd_error", a.autograd_error},
                             {"scale", a.scale},
                             {"bound", a.bound},
                             {"pass", a.pass}}},
                           {"expect_exact", row.expect_exact},
                           {"pass", row.pass},
                           {"note", row.note}};
      if (!c.problem.empty()) jr["problem"] = c.problem;
      if (row.maxdiff_goal) jr["maxdiff_goal"] = *row.maxdiff_goal;
      const std::string anchor = section_of ? section_of(exercise_key(ex.number), c.name) : "";
      if (!anchor.empty()) jr["section"] = std::string(kDerivationsPath) + "#" + anchor;
      rows.push_back(jr);
    }
    j[exercise_key(ex.number)] = rows;
  }
  j["pass"] = pass;
  return j;
}

std::string exactness_summary(const CheckReport& r, const std::vector<Row>* rows) {
  if (!r.ledger_found) return "exactness NOT verified (no ledger entry for this configuration)";
  int recorded = 0, still = 0;
  auto count = [&](const std::vector<Row>& rs) {
    for (const Row& row : rs) {
      recorded += row.expect_exact ? 1 : 0;
      still += row.expect_exact && row.cmp.exact ? 1 : 0;
    }
  };
  if (rows) {
    count(*rows);
  } else {
    for (const auto& ex : r.exercises) count(ex.rows);
  }
  if (recorded == 0)
    return std::string("exactness: nothing recorded exact for this ") + (rows ? "exercise" : "configuration") +
           " (accuracy only)";
  const std::string n = std::to_string(recorded) + (recorded == 1 ? " row" : " rows");
  if (still == recorded) return "exactness: " + n + " recorded exact, all still exact";
  return "exactness: " + n + " recorded exact, " + std::to_string(recorded - still) + " no longer exact";
}

std::string format_report(const CheckReport& r) {
  std::ostringstream os;
  os << "libtorch " << r.env.libtorch << " | cpu capability " << r.env.cpu_capability << " | " << r.env.dtype << " | "
     << r.env.device << "\n";
  os << "splits: train " << r.train_rows << ", dev " << r.dev_rows << ", test " << r.test_rows << " | loss "
     << fmt("%.9g", r.loss) << "\n";
  os << r.ledger_status << "\n";
  for (const auto& ex : r.exercises) {
    os << "\n" << ex.title << "\n";
    for (const Goal& g : r.goals) {
      if (g.exercise != ex.number) continue;
      os << g.what << ": " << fmt("%.3g", g.value)
         << (g.applies ? " (goal <= " + fmt("%g", g.limit) + ")" : g.not_applied) << "\n";
    }
    char line[768];
    std::snprintf(line, sizeof line, "%-22s | %-5s | %-11s | %-12s | %-9s | %-7s | %-12s | %-9s | %s\n", "name",
                  "exact", "approximate", "maxdiff", "bit-equal", "max ULP", "worst", "err/bound", "result");
    os << line;
    for (const auto& row : ex.rows) {
      const auto& c = row.cmp;
      std::string result = row.pass ? "ok" : "FAIL";
      if (row.expect_exact) result += " (exact recorded)";
      if (!row.note.empty()) result += ": " + row.note;
      const double ratio =
          row.accuracy.bound > 0 ? row.accuracy.error / row.accuracy.bound : (row.accuracy.error == 0 ? 0.0 : INFINITY);
      std::snprintf(line, sizeof line, "%-22s | %-5s | %-11s | %-12s | %8.1f%% | %-7llu | %-12s | %-9s | %s\n",
                    c.name.c_str(), c.exact ? "True" : "False", c.allclose ? "True" : "False",
                    fmt("%.6g", c.maxdiff).c_str(), 100.0 * c.exact_fraction,
                    static_cast<unsigned long long>(c.max_ulp), index_string(c.worst_index).c_str(),
                    fmt("%.3f", ratio).c_str(), result.c_str());
      os << line;
    }
    os << exactness_summary(r, &ex.rows) << "\n";
  }
  os << "\nderivations: " << kDerivationsPath
     << "#summary-table (one row per gradient, linked to its section; --json gives each row's \"section\")\n";
  return os.str();
}

UpdateReference sgd_reference(double lr) {
  return [lr](std::size_t, const at::Tensor& p, const at::Tensor& g, at::ScalarType d) {
    return at::add(p.detach().to(d), g.detach().to(d), -lr);
  };
}

std::vector<Row> update_rows(const NamedTensorList& before, const NamedTensorList& applied,
                             const NamedTensorList& after, const UpdateReference& reference) {
  std::vector<Row> rows;
  const at::ScalarType dtype = before.empty() ? at::kFloat : before.front().second.scalar_type();
  const std::map<std::string, at::Tensor> by_name(applied.begin(), applied.end());
  for (std::size_t i = 0; i < before.size(); ++i) {
    const std::string& name = before[i].first;
    const at::Tensor& p = before[i].second;
    const auto it = by_name.find(name);
    const at::Tensor g = it == by_name.end() ? at::Tensor() : it->second;
    if (!g.defined() || g.sizes() != before[i].second.sizes()) {  // not applied
      Row row = make_row("step:" + name, after[i].second, Reference{});
      row.cmp.problem =
          "not applied: d" + name + (g.defined() ? " does not have the parameter's shape" : " is missing");
      rows.push_back(std::move(row));
      continue;
    }
    rows.push_back(make_row(
        "step:" + name, after[i].second,
        Reference{reference(i, p, g, dtype), reference(i, p, g, at::kFloat), reference(i, p, g, at::kDouble), 0.0}));
  }
  return rows;
}

}  // namespace bpn::verify
