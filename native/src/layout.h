// Memory-bound layout kernels on raw float32 (32-bit) pointers, the wasm kernels' results bit for
// bit: the strided copy behind permutes and im2col (src/backend/wasm/reduce.ts, copy4d_32) and
// col2im, the adjoint of im2col (src/backend/wasm/conv.ts, col2im_f32, and the reference in
// src/backend/js/conv.ts). Portable C++: they move memory, so wider vectors would not help.
#pragma once

#include <cstdint>

#include "gemm.h"

namespace descent {

// A strided copy of 32-bit values: element (k_0, ..., k_{rank-1}) of an n[0] x ... x n[rank-1]
// block moves from src[sum_i k_i s[i]] to dst[sum_i k_i d[i]] (strides in elements, any sign).
// Rows (all indices but the last) go in row-major order; a row with unit strides on both sides
// moves as memmove moves it, others element by element in order. Split over threads only where
// that cannot change the result; the library's copies never overlap their source.
constexpr int kCopyMaxRank = 8;

struct CopyNd {
  const std::uint32_t* src;
  std::uint32_t* dst;
  int rank;  // 1..kCopyMaxRank
  Index n[kCopyMaxRank];
  Index s[kCopyMaxRank];
  Index d[kCopyMaxRank];
};

// On up to `threads` threads, split by rows (copies under about 2^16 elements on the caller).
// Threads are used only when `apart`: the source and destination do not overlap and no two
// elements are written to one place.
void copy_nd(const CopyNd& c, bool apart, int threads);

// col2im: out (NCHW, [n, c, h, w]) is zero plus, for each entry of cols [c, kh, kw, n, outH,
// outW] in order, that entry added (in float32) at the pixel [n, c, oh*sh + i*dh, ow*sw + j*dw]
// it stands for. Every window must lie inside the image. Split over channels.
struct Col2im {
  const float* cols;
  float* out;
  Index n, c, h, w, kh, kw, sh, sw, dh, dw, out_h, out_w;
};

void col2im(const Col2im& l, int threads);

}  // namespace descent
