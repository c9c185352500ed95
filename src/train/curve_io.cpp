#include "train/curve_io.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "util/atomic_file.h"

namespace bpn::train {

namespace {
std::string gnuplot_quote(const std::string& s) {  // a single-quoted gnuplot string
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}
}  // namespace

void write_loss_csv(const std::string& path, const std::vector<CurvePoint>& curve) {
  std::ostringstream os;
  os.precision(9);
  os << "first_step,last_step,mean_log10_loss\n";
  for (const auto& p : curve) os << p.first_step << ',' << p.last_step << ',' << p.mean_log10_loss << '\n';
  util::write_file_atomically(path, os.str());
}

std::string plot_loss_png(const std::string& csv_path, const std::string& png_path) {
  const std::string tmp_png = png_path + ".tmp." + std::to_string(::getpid());
  std::ostringstream script;
  script << "set terminal pngcairo size 900,500\n"
         << "set output " << gnuplot_quote(tmp_png) << "\n"
         << "set datafile separator ','\n"
         << "set title 'training loss (log10, mean per 1000 steps)'\n"
         << "set xlabel 'step'\nset ylabel 'log10(loss)'\nset grid\nset key off\n"
         << "plot " << gnuplot_quote(csv_path) << " skip 1 using (($1+$2)/2):3 with lines lw 2\n";
  const std::string script_path = png_path + ".gp.tmp." + std::to_string(::getpid());
  util::write_file_atomically(script_path, script.str());

  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    ::execlp("gnuplot", "gnuplot", script_path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  std::error_code ec;
  std::filesystem::remove(script_path, ec);
  if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !std::filesystem::exists(tmp_png)) {
    std::filesystem::remove(tmp_png, ec);
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
      return "gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)";
    return "gnuplot failed";
  }
  std::filesystem::rename(tmp_png, png_path, ec);
  return ec ? "cannot rename the plot into place: " + ec.message() : "";
}

}  // namespace bpn::train
