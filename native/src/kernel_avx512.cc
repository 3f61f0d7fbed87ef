// AVX-512F micro-kernel: an MR x (16 * NV) tile of C held in MR * NV zmm accumulators. Each step
// of k loads NV vectors of the packed B row and broadcasts MR elements of the packed A column,
// so a step is MR * NV fused multiply-adds on 2 * NV + MR loads (broadcasts fold into the FMA).
// Compiled with a target attribute, never global flags: this code runs only after
// __builtin_cpu_supports said the CPU has AVX-512F.
#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define DESCENT_TARGET __attribute__((target("avx512f,avx2,fma")))
#include "pack-inl.h"
#include "transpose-inl.h"
#include "sgd-inl.h"

namespace descent {
namespace {

template <int MR, int NV>
DESCENT_TARGET void micro_avx512(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, bool add, int rows, int cols) {
  constexpr int NR = 16 * NV;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (Index p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }
  if (rows == MR && cols == NR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* cp = c + i * ldc + 16 * v;
        __m512 x = acc[i][v];
        if (add) x = _mm512_add_ps(_mm512_loadu_ps(cp), x);
        _mm512_storeu_ps(cp, x);
      }
    return;
  }
  // Edge tile: masked loads and stores touch only the first `cols` columns of the first `rows` rows.
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int left = cols - 16 * v;
      if (left <= 0) break;
      const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
      float* cp = c + i * ldc + 16 * v;
      __m512 x = acc[i][v];
      if (add) x = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, cp), x);
      _mm512_mask_storeu_ps(cp, mask, x);
    }
  }
}

// 8 x 32: 16 accumulators, enough to keep two FMA pipes of latency 4 busy; batch sizes (multiples
// of 8) fill whole tiles. Measured on Zen 5 (full-width 512-bit FMA, peak 215 GFLOP/s per core),
// n = 512, one thread: 6x32, 8x32, 12x32, 14x32, 8x48 and 4x64 all ran at 200-207 GFLOP/s, so
// the shape is chosen for small products; kc = 256 (a 32 KiB B panel in L1), mc = 256 (A's block,
// 256 KiB, in L2); kc from 128 to 512 and mc from 64 to 512 changed the rate by under 3%.
constexpr int kMr = 8;  // pack_a_8 assumes it
constexpr int kNv = 2;
constexpr int kNr = 16 * kNv;

}  // namespace

const KernelSet* kernels_avx512() {
  static const KernelSet set = {Isa::avx512, kMr, kNr, 256, 256, 2048,
                                &micro_avx512<kMr, kNv>, &pack_a_8, &pack_b_t<kNr>};
  return &set;
}

SgdKernel sgd_kernel_avx512() { return &sgd_dispatch; }
SumSqKernel sumsq_kernel_avx512() { return &sumsq_block; }

}  // namespace descent

#else

#include "sgd.h"

namespace descent {
SgdKernel sgd_kernel_avx512() { return nullptr; }
SumSqKernel sumsq_kernel_avx512() { return nullptr; }
const KernelSet* kernels_avx512() { return nullptr; }
}  // namespace descent

#endif
