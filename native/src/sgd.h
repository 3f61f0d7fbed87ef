// The SGD update (torch.optim.SGD's step for one parameter) on raw float32 pointers, the same
// float32 operations in the same order as the reference (src/backend/js/optim.ts), each rounded on
// its own (this file set is built with -ffp-contract=off, so no multiply-add is fused), so results
// are bit-identical to it and to the wasm kernel:
//   g' = maximize ? -g : g;  g' = g' + p * wd          (weight decay)
//   b  = first ? g' : b_in * momentum + g' * keep      (keep = 1 - dampening; with momentum)
//   g' = nesterov ? g' + b * momentum : b
//   p_out = p - g' * lr
// p_out may be p and b_out may be b_in (in place); no other overlap.
#pragma once

#include "gemm.h"

namespace descent {

enum SgdFlags { kSgdMaximize = 1, kSgdDecay = 2, kSgdMomentum = 4, kSgdFirst = 8, kSgdNesterov = 16 };

struct Sgd {
  const float* p;
  const float* g;
  const float* b_in;  // read when (flags & kSgdMomentum) && !(flags & kSgdFirst)
  float* p_out;
  float* b_out;  // written when flags & kSgdMomentum
  Index n;
  float lr, momentum, keep, wd;
  int flags;
};

// Elements [begin, end) of the update. One per ISA, like the GEMM kernels.
using SgdKernel = void (*)(const Sgd& s, Index begin, Index end);
SgdKernel sgd_kernel(Isa isa);
SgdKernel sgd_kernel_avx2();    // nullptr where not compiled
SgdKernel sgd_kernel_avx512();  // idem

// The whole update on up to `threads` threads (updates under about 2^16 elements on the caller).
void sgd_step(Isa isa, const Sgd& s, int threads);

// Sums of squares by rows (the trainer's gradient norm, Backend.sumSquares): out[r] is the
// float64 sum over x[r * cols, (r + 1) * cols) of x * x, each square a float32 product, added in
// the wasm kernel's order (src/backend/wasm/optim.ts, sumsq_rows), so the same bits: four float64
// lanes l = j % 4 over the first (cols & ~3) elements, then (l0 + l2) + (l1 + l3), then the
// remaining elements one at a time. Rows are independent, so several run interleaved (each keeps
// its own order) and the result does not depend on the split over threads.
struct SumSq {
  const float* x;
  double* out;
  Index rows, cols;
};

// Rows [begin, end). One per ISA, like the SGD kernels.
using SumSqKernel = void (*)(const SumSq& s, Index begin, Index end);
SumSqKernel sumsq_kernel(Isa isa);
SumSqKernel sumsq_kernel_avx2();    // nullptr where not compiled
SumSqKernel sumsq_kernel_avx512();  // idem

// Every row on up to `threads` threads (under about 2^16 elements on the caller).
void sumsq_rows(Isa isa, const SumSq& s, int threads);

}  // namespace descent
