// The SGD update: the portable build of sgd-inl.h, the per-ISA choice and the split over threads.
#include "sgd.h"

#include <algorithm>

#include "pool.h"

#define DESCENT_TARGET
#include "sgd-inl.h"
#undef DESCENT_TARGET

namespace descent {

SgdKernel sgd_kernel(Isa isa) {
  const SgdKernel k = isa == Isa::avx512 ? sgd_kernel_avx512() : isa == Isa::avx2 ? sgd_kernel_avx2() : nullptr;
  return k != nullptr ? k : &sgd_dispatch;
}

namespace {
// Elements per chunk: a thread is worth waking for about this much memory traffic.
constexpr Index kSgdChunk = Index{1} << 16;
}  // namespace

void sgd_step(Isa isa, const Sgd& s, int threads) {
  const SgdKernel kernel = sgd_kernel(isa);
  // chunks of multiples of 64 elements
  run_split(s.n, std::min<Index>(threads, s.n / kSgdChunk), 64, [&](Index begin, Index end) { kernel(s, begin, end); });
}

SumSqKernel sumsq_kernel(Isa isa) {
  const SumSqKernel k = isa == Isa::avx512 ? sumsq_kernel_avx512() : isa == Isa::avx2 ? sumsq_kernel_avx2() : nullptr;
  return k != nullptr ? k : &sumsq_block;
}

void sumsq_rows(Isa isa, const SumSq& s, int threads) {
  const SumSqKernel kernel = sumsq_kernel(isa);
  // chunks of whole groups of interleaved rows
  run_split(s.rows, std::min<Index>({threads, s.rows, s.rows * s.cols / kSgdChunk}), kSumSqRows,
            [&](Index begin, Index end) { kernel(s, begin, end); });
}

}  // namespace descent
