// AVX2 + FMA micro-kernel: an MR x (8 * NV) tile of C in MR * NV ymm accumulators (6 x 16 uses
// 12 of the 16 registers, leaving room for the two B vectors and one broadcast). Compiled with a
// target attribute, never global flags: this code runs only after __builtin_cpu_supports said the
// CPU has AVX2 and FMA.
#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define DESCENT_TARGET __attribute__((target("avx2,fma")))
#include "pack-inl.h"
#include "transpose-inl.h"
#include "sgd-inl.h"

namespace descent {
namespace {

// Lanes j with j < left set (all ones), the others clear: the mask of a partial row.
DESCENT_TARGET inline __m256i lanes_below(int left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int MR, int NV>
DESCENT_TARGET void micro_avx2(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, bool add, int rows, int cols) {
  constexpr int NR = 8 * NV;
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
#pragma GCC unroll 4
  for (Index p = 0; p < kc; ++p) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }
  if (rows == MR && cols == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* cp = c + i * ldc + 8 * v;
        __m256 x = acc[i][v];
        if (add) x = _mm256_add_ps(_mm256_loadu_ps(cp), x);
        _mm256_storeu_ps(cp, x);
      }
    return;
  }
  // Edge tile: masked loads and stores touch only the first `cols` columns of the first `rows` rows.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int left = cols - 8 * v;
      if (left <= 0) break;
      const __m256i mask = lanes_below(left);
      float* cp = c + i * ldc + 8 * v;
      __m256 x = acc[i][v];
      if (add) x = _mm256_add_ps(_mm256_maskload_ps(cp, mask), x);
      _mm256_maskstore_ps(cp, mask, x);
    }
  }
}

// A row-major (the common case): a full panel packs 8 columns at a time by an 8 x 8 transpose of
// its 6 rows (and row 5 twice more as filler); column q of the block is stored as 8 floats at
// out[(p0 + q) * 6], each store's last two overwritten by the next, the last one masked to 6.
DESCENT_TARGET void pack_a_6(const float* a, Index rs, Index cs, int rows, Index kc, float* out) {
  if (rows != 6 || cs != 1) return pack_a<6>(a, rs, cs, rows, kc, out);
  const __m256i six = lanes_below(6);
  Index p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(a + (i < 6 ? i : 5) * rs + p);
    transpose8x8(r);
    float* o = out + 6 * p;
#pragma GCC unroll 7
    for (int q = 0; q < 7; ++q) _mm256_storeu_ps(o + 6 * q, r[q]);
    _mm256_maskstore_ps(o + 42, six, r[7]);
  }
  for (; p < kc; ++p)
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) out[6 * p + i] = a[i * rs + p];
}

// 6 x 16, kc = 256 (a 16 KiB B panel in L1), mc = 168 (A's block, 168 KiB, fits Zen 3's 512 KiB
// L2): 108 GFLOP/s at n = 512 on one Zen 5 core, the AVX2 FMA peak.
constexpr int kMr = 6;  // pack_a_6 assumes it
constexpr int kNv = 2;
constexpr int kNr = 8 * kNv;

}  // namespace

const KernelSet* kernels_avx2() {
  static const KernelSet set = {Isa::avx2, kMr, kNr, 256, 168, 2048,
                                &micro_avx2<kMr, kNv>, &pack_a_6, &pack_b_t<kNr>};
  return &set;
}

SgdKernel sgd_kernel_avx2() { return &sgd_dispatch; }
SumSqKernel sumsq_kernel_avx2() { return &sumsq_block; }

}  // namespace descent

#else

#include "sgd.h"

namespace descent {
SgdKernel sgd_kernel_avx2() { return nullptr; }
SumSqKernel sumsq_kernel_avx2() { return nullptr; }
const KernelSet* kernels_avx2() { return nullptr; }
}  // namespace descent

#endif
