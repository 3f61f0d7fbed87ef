// The layout kernels of layout.h and their split over the pool.
#include "layout.h"

#include <algorithm>
#include <cstring>

#include "pool.h"

namespace descent {

namespace {
// Elements per chunk: a thread is worth waking for about this much memory traffic.
constexpr Index kLayoutChunk = Index{1} << 16;

// A short row of a copy whose source and destination do not overlap.
inline void copy_short(std::uint32_t* __restrict d, const std::uint32_t* __restrict s, Index cols) {
  for (Index j = 0; j < cols; ++j) d[j] = s[j];
}

// Rows [begin, end) of the copy, numbered in row-major order of the leading rank - 1 indices.
void copy_rows(const CopyNd& c, bool apart, Index begin, Index end) {
  const int lead = c.rank - 1;
  const Index cols = c.n[lead], sc = c.s[lead], dc = c.d[lead];
  // the first row's indices and offsets; then an odometer
  Index k[kCopyMaxRank] = {}, so = 0, doff = 0;
  for (Index rest = begin, i = lead - 1; i >= 0; --i) {
    k[i] = rest % c.n[i];
    rest /= c.n[i];
    so += k[i] * c.s[i];
    doff += k[i] * c.d[i];
  }
  for (Index row = begin; row < end; ++row) {
    const std::uint32_t* s = c.src + so;
    std::uint32_t* d = c.dst + doff;
    if (sc == 1 && dc == 1) {
      if (apart && cols <= 32) {
        copy_short(d, s, cols);  // an im2col row is a few elements: no call per row
      } else {
        std::memmove(d, s, static_cast<std::size_t>(cols) * sizeof *d);
      }
    } else {
      for (Index j = 0; j < cols; ++j) d[j * dc] = s[j * sc];
    }
    for (int i = lead - 1; i >= 0; --i) {
      so += c.s[i];
      doff += c.d[i];
      if (++k[i] < c.n[i]) break;
      so -= c.s[i] * c.n[i];
      doff -= c.d[i] * c.n[i];
      k[i] = 0;
    }
  }
}

// Channels [begin, end) of col2im: their planes of every image cleared, then the columns added.
void col2im_channels(const Col2im& l, Index begin, Index end) {
  const Index plane = l.h * l.w, row_step = l.sh * l.w, per_channel = l.kh * l.kw * l.n * l.out_h * l.out_w;
  for (Index ch = begin; ch < end; ++ch) {
    for (Index b = 0; b < l.n; ++b) std::memset(l.out + (b * l.c + ch) * plane, 0, static_cast<std::size_t>(plane) * sizeof(float));
    const float* col = l.cols + ch * per_channel;
    for (Index i = 0; i < l.kh; ++i)
      for (Index j = 0; j < l.kw; ++j)
        for (Index b = 0; b < l.n; ++b) {
          float* row = l.out + (b * l.c + ch) * plane + i * l.dh * l.w + j * l.dw;
          for (Index oh = 0; oh < l.out_h; ++oh, row += row_step, col += l.out_w) {
            if (l.sw == 1) {
              for (Index ow = 0; ow < l.out_w; ++ow) row[ow] = row[ow] + col[ow];
            } else {
              for (Index ow = 0; ow < l.out_w; ++ow) row[ow * l.sw] = row[ow * l.sw] + col[ow];
            }
          }
        }
  }
}

// How many threads `units` of work holding `elements` in all are worth (at least kLayoutChunk each).
Index parts_for(Index units, Index elements, int threads) {
  return std::min<Index>({static_cast<Index>(threads), units, elements / kLayoutChunk});
}
}  // namespace

void copy_nd(const CopyNd& c, bool apart, int threads) {
  Index rows = 1;
  for (int i = 0; i < c.rank; ++i) {
    if (c.n[i] == 0) return;
    if (i < c.rank - 1) rows *= c.n[i];
  }
  const Index parts = apart ? parts_for(rows, rows * c.n[c.rank - 1], threads) : 1;
  run_split(rows, parts, 1, [&](Index begin, Index end) { copy_rows(c, apart, begin, end); });
}

void col2im(const Col2im& l, int threads) {
  if (l.n * l.c * l.h * l.w == 0) return;
  if (l.kh == 0 || l.kw == 0 || l.out_h == 0 || l.out_w == 0) {
    // no columns: zeros, without walking windows that hold nothing
    std::memset(l.out, 0, static_cast<std::size_t>(l.n * l.c * l.h * l.w) * sizeof(float));
    return;
  }
  const Index parts = parts_for(l.c, l.c * l.kh * l.kw * l.n * l.out_h * l.out_w + l.n * l.c * l.h * l.w, threads);
  run_split(l.c, parts, 1, [&](Index begin, Index end) { col2im_channels(l, begin, end); });
}

}  // namespace descent
