#pragma once

#include <string>
#include <vector>

#include "train/run.h"

namespace bpn::train {

// CSV: first_step,last_step,mean_log10_loss (written atomically).
void write_loss_csv(const std::string& path, const std::vector<CurvePoint>& curve);

// PNG plot of the curve, drawn by gnuplot (Debian's gnuplot-nox) into a temporary file that is
// renamed into place. Returns an empty string on success, otherwise why the plot was not made.
std::string plot_loss_png(const std::string& csv_path, const std::string& png_path);

}  // namespace bpn::train
