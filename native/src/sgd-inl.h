// The SGD update's loop, included by each ISA's translation unit with DESCENT_TARGET defined (its
// target attribute, or nothing for the portable build), so the compiler vectorises it for that ISA.
// Blocks of kLanes elements go through local arrays: the loads of a block all happen before its
// stores, so p_out == p and b_out == b_in (in place) give the same results as separate buffers,
// and the compiler needs no run-time overlap check to vectorise.
#pragma once

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

}  // namespace
}  // namespace descent
