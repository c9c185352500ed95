#include "util/malloc_tuning.h"

#include <malloc.h>

namespace bpn::util {

void keep_freed_memory_for_reuse() {
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
}

}  // namespace bpn::util
