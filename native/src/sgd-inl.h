// The SGD update's loop, included by each ISA's translation unit with DESCENT_TARGET defined (its
// target attribute, or nothing for the portable build), so the compiler vectorises it for that ISA.
// Blocks of kLanes elements go through local arrays: the loads of a block all happen before its
// stores, so p_out == p and b_out == b_in (in place) give the same results as separate buffers,
// and the compiler needs no run-time overlap check to vectorise.
#pragma once

#include <cstring>

#include "sgd.h"

namespace descent {
namespace {

constexpr int kSgdLanes = 16;

// Elements [at, at + count) (count <= kSgdLanes): all loads, then all stores.
template <int Flags>
DESCENT_TARGET inline void sgd_lanes(const Sgd& s, Index at, int count) {
  const float lr = s.lr, mu = s.momentum, keep = s.keep, wd = s.wd;
  float x[kSgdLanes], g[kSgdLanes], b[kSgdLanes];
  for (int j = 0; j < count; ++j) {
    x[j] = s.p[at + j];
    g[j] = s.g[at + j];
    if (Flags & kSgdMaximize) g[j] = -g[j];
    if (Flags & kSgdDecay) g[j] = g[j] + x[j] * wd;
    if (Flags & kSgdMomentum) b[j] = (Flags & kSgdFirst) ? g[j] : s.b_in[at + j] * mu + g[j] * keep;
  }
  for (int j = 0; j < count; ++j) {
    if (Flags & kSgdMomentum) {
      s.b_out[at + j] = b[j];
      g[j] = (Flags & kSgdNesterov) ? g[j] + b[j] * mu : b[j];
    }
    s.p_out[at + j] = x[j] - g[j] * lr;
  }
}

template <int Flags>
DESCENT_TARGET void sgd_block(const Sgd& s, Index begin, Index end) {
  Index i = begin;
  for (; i + kSgdLanes <= end; i += kSgdLanes) sgd_lanes<Flags>(s, i, kSgdLanes);
  if (i < end) sgd_lanes<Flags>(s, i, static_cast<int>(end - i));
}

// The variant for s.flags (momentum-free updates ignore the first and nesterov bits).
DESCENT_TARGET void sgd_dispatch(const Sgd& s, Index begin, Index end) {
  switch (s.flags & (s.flags & kSgdMomentum ? 31 : 3)) {
#define DESCENT_SGD_CASE(f) \
  case f:                   \
    return sgd_block<f>(s, begin, end);
    DESCENT_SGD_CASE(0)
    DESCENT_SGD_CASE(1)
    DESCENT_SGD_CASE(2)
    DESCENT_SGD_CASE(3)
    DESCENT_SGD_CASE(4)
    DESCENT_SGD_CASE(5)
    DESCENT_SGD_CASE(6)
    DESCENT_SGD_CASE(7)
    DESCENT_SGD_CASE(12)
    DESCENT_SGD_CASE(13)
    DESCENT_SGD_CASE(14)
    DESCENT_SGD_CASE(15)
    DESCENT_SGD_CASE(20)
    DESCENT_SGD_CASE(21)
    DESCENT_SGD_CASE(22)
    DESCENT_SGD_CASE(23)
    DESCENT_SGD_CASE(28)
    DESCENT_SGD_CASE(29)
    DESCENT_SGD_CASE(30)
    DESCENT_SGD_CASE(31)
#undef DESCENT_SGD_CASE
    default:
      return;
  }
}

// Four float32 lanes and four float64 lanes (GCC/Clang vector extensions: lane-wise operations,
// each rounded on its own, compiled to the vectors of the translation unit's target).
typedef float SumSqF4 __attribute__((vector_size(16)));
typedef double SumSqD4 __attribute__((vector_size(32)));

// acc += x[j, j + 4) squared in float32, widened to float64 (by reference: a 32-byte vector
// returned by value would change the ABI between the per-ISA builds).
DESCENT_TARGET inline void sumsq_add4(SumSqD4& acc, const float* x) {
  SumSqF4 v;
  std::memcpy(&v, x, sizeof v);
  acc += __builtin_convertvector(v * v, SumSqD4);
}

// A row's end: (l0 + l2) + (l1 + l3), then x[vec, cols) one at a time.
DESCENT_TARGET inline double sumsq_finish(const SumSqD4& acc, const float* x, Index vec, Index cols) {
  double t = (acc[0] + acc[2]) + (acc[1] + acc[3]);
  for (Index j = vec; j < cols; ++j) {
    const float v = x[j] * x[j];
    t = static_cast<double>(v) + t;
  }
  return t;
}

constexpr int kSumSqRows = 4;  // rows interleaved: 16 independent float64 sums hide the add latency

DESCENT_TARGET void sumsq_block(const SumSq& s, Index begin, Index end) {
  const Index cols = s.cols, vec = cols & ~Index{3};
  Index r = begin;
  for (; r + kSumSqRows <= end; r += kSumSqRows) {
    const float* x = s.x + r * cols;
    SumSqD4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    for (Index j = 0; j < vec; j += 4) {
      sumsq_add4(a0, x + j);
      sumsq_add4(a1, x + cols + j);
      sumsq_add4(a2, x + 2 * cols + j);
      sumsq_add4(a3, x + 3 * cols + j);
    }
    s.out[r] = sumsq_finish(a0, x, vec, cols);
    s.out[r + 1] = sumsq_finish(a1, x + cols, vec, cols);
    s.out[r + 2] = sumsq_finish(a2, x + 2 * cols, vec, cols);
    s.out[r + 3] = sumsq_finish(a3, x + 3 * cols, vec, cols);
  }
  for (; r < end; ++r) {
    const float* x = s.x + r * cols;
    SumSqD4 a = {0, 0, 0, 0};
    for (Index j = 0; j < vec; j += 4) sumsq_add4(a, x + j);
    s.out[r] = sumsq_finish(a, x, vec, cols);
  }
}

}  // namespace
}  // namespace descent
