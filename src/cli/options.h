// Option parsing shared by the subcommands: dtype and device names, range checks.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace bpn::cli {

at::ScalarType parse_dtype(const std::string& name);  // float32 | float64
at::Device parse_device(const std::string& name);     // cpu | cuda (checked against the LibTorch build)

// Throws bpn::InputError "--option must be between lo and hi (got v)".
void require_range(const std::string& option, std::int64_t value, std::int64_t lo, std::int64_t hi);
void require_batch_size(std::int64_t batch_size);

// --out DIR (if given): creates the directory and checks that `file` can be written in it, and
// --json FILE (if given): checks that it can be written; before any work starts. Throws bpn::InputError.
void prepare_outputs(const std::string& out_dir, const std::string& file, const std::string& json);

// The one line a training run prints when SIGINT or SIGTERM stopped it after `step` of `steps`: where
// the checkpoint is and the exact command that continues the run (or that nothing was saved).
std::string interrupted_line(const std::string& signal_name, std::int64_t step, std::int64_t steps,
                             const std::string& out_dir, const std::string& data);

// With --out DIR (if given): DIR/loss.csv, log10 of the loss averaged per `chunk` steps as the notebook
// plots it, and DIR/loss.png drawn from it by gnuplot; a plot that cannot be made is a warning on err.
void write_loss_files(const std::string& out_dir, const std::vector<float>& losses, std::int64_t chunk,
                      std::ostream& err);

// A seed: a whole number from 0 to 2^64-1, digits only (CLI11 would wrap "-1" to 2^64-1).
std::uint64_t parse_seed(const std::string& option, const std::string& text);

}  // namespace bpn::cli
