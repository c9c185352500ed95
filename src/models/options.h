// The command line as a model reads it (Options: the value of each option given, by name), and the
// checks every command shares: dtype and device names, ranges, seeds, output files.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <exception>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace bpn::cli {

// What was given on the command line, by option name ("--n-layer" -> "2"; a flag -> "true"). The
// commands fill it; a model reads the options it declares (models/model.h), each with its own default.
class Options {
 public:
  void set(const std::string& name, const std::string& value) { values_[name] = value; }
  bool given(const std::string& name) const { return values_.count(name) > 0; }
  // The value given, or `fallback`.
  std::string text(const std::string& name, const std::string& fallback) const;
  // A whole number, or `fallback`; throws bpn::InputError "--n-layer must be a whole number (got 'x')".
  std::int64_t integer(const std::string& name, std::int64_t fallback) const;
  // A finite or infinite decimal number, or `fallback`; throws bpn::InputError when it is not one.
  double number(const std::string& name, double fallback) const;
  bool flag(const std::string& name) const { return given(name) && values_.at(name) == "true"; }
  // The names given, in alphabetical order.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::string> values_;
};

at::ScalarType parse_dtype(const std::string& name);  // float32 | float64
at::Device parse_device(const std::string& name);     // cpu | cuda (checked against the LibTorch build)

// Throws bpn::InputError "--option must be between lo and hi (got v)".
void require_range(const std::string& option, std::int64_t value, std::int64_t lo, std::int64_t hi);
void require_batch_size(std::int64_t batch_size);

// --verify-every N on a run that trains steps first_step .. steps-1 (a resumed run starts later):
// checks step k when k % N == 0. Throws bpn::InputError when no step would be checked, before
// training, so that a verification that checks nothing never exits 0.
void require_a_verified_step(std::int64_t verify_every, std::int64_t first_step, std::int64_t steps);

// The directories prepare_outputs made for --out. A run that ends by an exception (bad data, a checkpoint
// of other data, ...) removes them again, deepest first, where it left them empty, so that a rejected run
// leaves nothing behind; a run that returns keeps them.
class OutputDirectories {
 public:
  OutputDirectories() = default;
  OutputDirectories(OutputDirectories&& other) noexcept;
  OutputDirectories(const OutputDirectories&) = delete;
  OutputDirectories& operator=(const OutputDirectories&) = delete;
  OutputDirectories& operator=(OutputDirectories&&) = delete;
  ~OutputDirectories();

 private:
  friend OutputDirectories prepare_outputs(const std::string&, const std::string&, const std::string&);
  std::vector<std::string> made_;  // deepest first
  int exceptions_at_start_ = std::uncaught_exceptions();
};

// --out DIR (if given): creates the directory and checks that `file` can be written in it, and
// --json FILE (if given): checks that it can be written; before any work starts. Throws bpn::InputError.
// Hold the result for the whole run: it removes the directories made here if the run fails.
[[nodiscard]] OutputDirectories prepare_outputs(const std::string& out_dir, const std::string& file,
                                                const std::string& json);

// With --out DIR (if given): DIR/loss.csv, log10 of the loss averaged per `chunk` steps as the notebook
// plots it, and DIR/loss.png drawn from it by gnuplot; a plot that cannot be made is a warning on err.
void write_loss_files(const std::string& out_dir, const std::vector<float>& losses, std::int64_t chunk,
                      std::ostream& err);

// Throws bpn::InputError "--lr must be a positive finite number (got v)".
void require_learning_rate(const std::string& option, double lr);

// A seed: a whole number from 0 to 2^64-1, digits only (CLI11 would wrap "-1" to 2^64-1).
std::uint64_t parse_seed(const std::string& option, const std::string& text);

}  // namespace bpn::cli
