// Packing of A and B into the panels the micro-kernels read, shared by every kernel translation
// unit: each includes it after defining DESCENT_TARGET (its ISA's target attribute), and the
// anonymous namespace gives every unit its own copy, compiled for its own ISA.
//
// Strides decide the loop order: the inner loop always walks the side of the source that is
// contiguous (if any), so the four transpose layouts pack at about the same speed.
#pragma once

namespace descent {
namespace {

// out[p * MR + i] = a[i * rs + p * cs] for i < rows, 0 for rows <= i < MR.
template <int MR>
DESCENT_TARGET void pack_a(const float* a, Index rs, Index cs, int rows, Index kc, float* out) {
  if (rows == MR && rs == 1) {
    // A transposed: one column of the panel is MR contiguous floats.
    for (Index p = 0; p < kc; ++p) {
      const float* src = a + p * cs;
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) out[p * MR + i] = src[i];
    }
    return;
  }
  if (cs == 1) {
    for (int i = 0; i < rows; ++i) {
      const float* src = a + i * rs;
      for (Index p = 0; p < kc; ++p) out[p * MR + i] = src[p];
    }
  } else {
    for (Index p = 0; p < kc; ++p)
      for (int i = 0; i < rows; ++i) out[p * MR + i] = a[i * rs + p * cs];
  }
  for (int i = rows; i < MR; ++i)
    for (Index p = 0; p < kc; ++p) out[p * MR + i] = 0.0f;
}

// out[p * NR + j] = b[p * rs + j * cs] for j < cols, 0 for cols <= j < NR.
template <int NR>
DESCENT_TARGET void pack_b(const float* b, Index rs, Index cs, int cols, Index kc, float* out) {
  if (cols == NR && cs == 1) {
    // B row-major: one row of the panel is NR contiguous floats.
    for (Index p = 0; p < kc; ++p) {
      const float* src = b + p * rs;
#pragma GCC unroll 64
      for (int j = 0; j < NR; ++j) out[p * NR + j] = src[j];
    }
    return;
  }
  if (rs == 1) {
    for (int j = 0; j < cols; ++j) {
      const float* src = b + j * cs;
      for (Index p = 0; p < kc; ++p) out[p * NR + j] = src[p];
    }
  } else {
    for (Index p = 0; p < kc; ++p)
      for (int j = 0; j < cols; ++j) out[p * NR + j] = b[p * rs + j * cs];
  }
  for (int j = cols; j < NR; ++j)
    for (Index p = 0; p < kc; ++p) out[p * NR + j] = 0.0f;
}

}  // namespace
}  // namespace descent
