#include "util/threads.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <exception>

#ifdef BPNINJA_HAVE_OPENMP
#include <omp.h>
#endif

namespace bpn::util {

namespace {
std::atomic<int> pair_threads{1};
}  // namespace

void set_training_threads(int n) {
  at::set_num_threads(1);  // also omp_set_num_threads(1): OpenBLAS (openmp build) follows it
  pair_threads.store(n < 1 ? 1 : n);
}

int training_threads() { return pair_threads.load(); }

void run_both(const std::function<void()>& first, const std::function<void()>& second) {
#ifdef BPNINJA_HAVE_OPENMP
  if (pair_threads.load() >= 2 && !omp_in_parallel()) {
    const bool inference = c10::InferenceMode::is_enabled(), grad = at::GradMode::is_enabled();
    std::exception_ptr error[2];
    bool ran[2] = {false, false};
    // Inside the region omp_in_parallel() holds on both threads, so ATen's ops and OpenBLAS's
    // products in either piece run serially, as they do with one thread.
#pragma omp parallel num_threads(2)
    {
      const int i = omp_get_thread_num();
      if (i < 2) {
        ran[i] = true;
        try {
          c10::InferenceMode inference_mode(inference);
          at::AutoGradMode grad_mode(grad);
          if (i == 0) {
            first();
          } else {
            second();
          }
        } catch (...) {
          error[i] = std::current_exception();
        }
      }
    }
    for (const std::exception_ptr& e : error) {
      if (e) std::rethrow_exception(e);
    }
    if (!ran[1]) second();  // OpenMP gave a team of one (OMP_THREAD_LIMIT=1): the second piece here
    return;
  }
#endif
  first();
  second();
}

}  // namespace bpn::util
