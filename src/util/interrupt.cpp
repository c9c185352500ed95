#include "util/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <cstring>

namespace bpn::util {

namespace {
volatile std::sig_atomic_t g_signal = 0;
char g_in_progress[4096] = {};
volatile std::sig_atomic_t g_has_in_progress = 0;

extern "C" void on_stop_signal(int signo) {
  if (g_signal != 0) {  // the second one: leave now, without the half-written file
    if (g_has_in_progress) ::unlink(g_in_progress);
    const char msg[] = "bpninja: second signal: exiting now; the last good checkpoint is untouched\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(128 + signo);
  }
  g_signal = signo;
}
}  // namespace

void set_file_in_progress(const char* path) {
  if (path == nullptr) {
    g_has_in_progress = 0;
    return;
  }
  g_has_in_progress = 0;
  std::strncpy(g_in_progress, path, sizeof g_in_progress - 1);
  g_in_progress[sizeof g_in_progress - 1] = '\0';
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g_has_in_progress = 1;
}

StopOnSignal::StopOnSignal() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

bool StopOnSignal::requested() const { return g_signal != 0; }
int StopOnSignal::signal_number() const { return g_signal; }
int StopOnSignal::exit_status() const { return 128 + g_signal; }
std::string StopOnSignal::signal_name() const { return g_signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

}  // namespace bpn::util
