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

struct SgdJob {
  SgdKernel kernel;
  const Sgd* s;
  Index per;
};

void run_sgd_chunk(void* ctx, int chunk) {
  const auto* job = static_cast<const SgdJob*>(ctx);
  const Index begin = chunk * job->per;
  job->kernel(*job->s, begin, std::min(job->s->n, begin + job->per));
}
}  // namespace

void sgd_step(Isa isa, const Sgd& s, int threads) {
  const SgdKernel kernel = sgd_kernel(isa);
  const Index parts = std::min<Index>(threads, s.n / kSgdChunk);
  if (parts <= 1) {
    kernel(s, 0, s.n);
    return;
  }
  // two chunks per thread (multiples of 64 elements), so a thread that starts late takes less
  const Index chunks = std::min<Index>(2 * parts, Pool::kMaxChunks);
  const Index per = ((s.n + chunks - 1) / chunks + 63) & ~Index{63};
  SgdJob job{kernel, &s, per};
  Pool::instance().run(static_cast<int>((s.n + per - 1) / per), static_cast<int>(parts - 1), &run_sgd_chunk, &job);
}

SumSqKernel sumsq_kernel(Isa isa) {
  const SumSqKernel k = isa == Isa::avx512 ? sumsq_kernel_avx512() : isa == Isa::avx2 ? sumsq_kernel_avx2() : nullptr;
  return k != nullptr ? k : &sumsq_block;
}

namespace {
struct SumSqJob {
  SumSqKernel kernel;
  const SumSq* s;
  Index per;  // rows per chunk
};

void run_sumsq_chunk(void* ctx, int chunk) {
  const auto* job = static_cast<const SumSqJob*>(ctx);
  const Index begin = chunk * job->per;
  job->kernel(*job->s, begin, std::min(job->s->rows, begin + job->per));
}
}  // namespace

void sumsq_rows(Isa isa, const SumSq& s, int threads) {
  const SumSqKernel kernel = sumsq_kernel(isa);
  const Index parts = std::min<Index>({threads, s.rows, s.rows * s.cols / kSgdChunk});
  if (parts <= 1) {
    kernel(s, 0, s.rows);
    return;
  }
  // two chunks per thread, whole groups of interleaved rows where there are enough rows
  const Index chunks = std::min<Index>(2 * parts, Pool::kMaxChunks);
  Index per = (s.rows + chunks - 1) / chunks;
  if (per > kSumSqRows) per = (per + kSumSqRows - 1) / kSumSqRows * kSumSqRows;
  SumSqJob job{kernel, &s, per};
  Pool::instance().run(static_cast<int>((s.rows + per - 1) / per), static_cast<int>(parts - 1), &run_sumsq_chunk, &job);
}

}  // namespace descent
