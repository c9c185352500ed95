#pragma once

namespace bpn::util {

// The training step allocates and frees a few hundred KiB of small tensors every step. With glibc's
// defaults, freeing the top of the heap returns it to the kernel (trim) and the next step faults it
// back in. Raising the trim and mmap thresholds keeps those pages: ~20% faster steps, measured with
// bench/bench_step (docs/performance.md "Before the kernel"). Process-wide; called by `bpninja train`, the benchmark,
// and bpn::gradcheck (thousands of forwards and backwards: 2.5x less CPU time, bench/bench_gradcheck).
void keep_freed_memory_for_reuse();

}  // namespace bpn::util
