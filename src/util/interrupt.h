// Ctrl-C (SIGINT) and SIGTERM during training (issue 14). While a StopOnSignal is alive:
//   - the first signal only sets a flag: the training loop finishes its step, writes a checkpoint
//     atomically, prints one line with the step and the exact --resume command, and exits 128 + the
//     signal's number (130 for SIGINT, 143 for SIGTERM);
//   - a second signal exits at once with that status, from the handler. A checkpoint being written at
//     that moment is abandoned: its temporary file is removed (util/atomic_file.h registers it), and
//     the last good checkpoint is left untouched.
// Outside training the default actions apply.
#pragma once

#include <csignal>
#include <string>

namespace bpn::util {

class StopOnSignal {
 public:
  StopOnSignal();   // installs the handlers for SIGINT and SIGTERM
  ~StopOnSignal();  // restores the previous ones
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  bool requested() const;           // a signal arrived
  int signal_number() const;        // SIGINT or SIGTERM (0 if none)
  int exit_status() const;          // 128 + signal_number()
  std::string signal_name() const;  // "SIGINT" or "SIGTERM"

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// The temporary file an atomic write is filling, so that a second signal can remove it (nullptr: none).
// Only util/atomic_file.cpp calls this.
void set_file_in_progress(const char* path);

}  // namespace bpn::util
