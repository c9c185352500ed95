// The kernel's loops are compiled three times, for AVX-512, AVX2 and the baseline, the CPU choosing at
// load time. The files that use this are compiled with -ffp-contract=off (src/CMakeLists.txt): GCC would
// otherwise fuse a*b+c into an fma in the AVX-512 version, so every version rounds as the code is written.
#pragma once

#if defined(__x86_64__) && !defined(__clang__)
#define BPN_KERNEL_LOOP __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BPN_KERNEL_LOOP
#endif

// A lambda called inside such a loop: always inlined, so that it is compiled for the clone's instruction
// set (a call to an out-of-line copy would run the baseline's code).
#if defined(__GNUC__)
#define BPN_INLINE_TERM __attribute__((always_inline))
#else
#define BPN_INLINE_TERM
#endif
