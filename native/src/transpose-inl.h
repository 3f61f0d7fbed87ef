// 8 x 8 float transposes (AVX) for packing the transposed sides: A stored row-major (an MR-row
// panel wants its columns) and B stored transposed (an NR-column panel wants its rows). Shared by
// the AVX2 and AVX-512 units, each including it after defining DESCENT_TARGET and pack-inl.h.
#pragma once

#include <immintrin.h>

namespace descent {
namespace {

// r[q] becomes column q of the 8 x 8 block whose rows were r[0..7].
DESCENT_TARGET inline void transpose8x8(__m256 r[8]) {
  __m256 t[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h + 0], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h + 0], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
    r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
  }
}

// dst[q * ds + i] = src[i * rs + q] for 0 <= i, q < 8.
DESCENT_TARGET inline void transpose_block(const float* src, Index rs, float* dst, Index ds) {
  __m256 r[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * rs);
  transpose8x8(r);
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + q * ds, r[q]);
}

// pack_a for MR = 8 with A row-major (the usual case): 8 columns at a time by one transpose.
[[maybe_unused]] DESCENT_TARGET void pack_a_8(const float* a, Index rs, Index cs, int rows, Index kc, float* out) {
  if (rows != 8 || cs != 1) return pack_a<8>(a, rs, cs, rows, kc, out);
  Index p = 0;
  for (; p + 8 <= kc; p += 8) transpose_block(a + p, rs, out + 8 * p, 8);
  for (; p < kc; ++p)
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) out[8 * p + i] = a[i * rs + p];
}

// pack_b with B transposed (B(p, j) at b[p + j * cs]): 8 x 8 blocks of the panel by transposes.
template <int NR>
DESCENT_TARGET void pack_b_t(const float* b, Index rs, Index cs, int cols, Index kc, float* out) {
  static_assert(NR % 8 == 0, "NR must be a multiple of 8");
  if (cols != NR || rs != 1) return pack_b<NR>(b, rs, cs, cols, kc, out);
  Index p = 0;
  for (; p + 8 <= kc; p += 8)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j += 8) transpose_block(b + j * cs + p, cs, out + p * NR + j, NR);
  for (; p < kc; ++p)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) out[p * NR + j] = b[j * cs + p];
}

}  // namespace
}  // namespace descent
