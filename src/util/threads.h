// How training uses threads, and why its results cannot depend on how many (`--threads N`).
//
// The rule: every ATen op and every BLAS call runs on exactly one thread. The only parallelism is
// run_both, which puts two independent pieces of work (a Linear's dx and dW products) on two threads;
// each piece is still computed serially, by the same code, whichever thread runs it.
//
// Why not let ATen and OpenBLAS split their own work: a product that OpenBLAS splits over two threads
// hands each thread a block of rows, and the rows at a block's edge go through narrower micro-kernels
// that accumulate in another order. Under OPENBLAS_CORETYPE=Haswell (set on AMD EPYC machines) that
// changed the GPT's and the WaveNet's trained weights between --threads 1 and 2 (issue 22). ATen's
// full reductions split their input the same way above 32,768 elements. One thread per op removes
// the whole class: the weights are then bit-identical across --threads, reruns and resume on a given
// machine and BLAS kernel (docs/determinism.md; tests/determinism/).
#pragma once

#include <functional>

namespace bpn::util {

// Sets the threads that training may use: ATen's intra-op threads (and so OpenBLAS's, which follows
// OpenMP's) to 1, and run_both's to n (>= 1). Called once by `bpninja train` and the benchmark.
void set_training_threads(int n);
int training_threads();

// Runs first() and second(), on two threads when set_training_threads gave at least two and we are
// not already inside a parallel region, in order on this thread otherwise. The caller's grad and
// inference modes hold in both. An exception from either piece is rethrown here, after both ended.
void run_both(const std::function<void()>& first, const std::function<void()>& second);

}  // namespace bpn::util
