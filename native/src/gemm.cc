// The GEMM driver (cache blocking, packing, the split over threads), the portable kernel set and
// CPU feature detection.
//
// Blocking, after BLIS: for each nc-column block of B and kc-row slice of k, B's kc x nc block is
// packed once into NR-column panels (it stays in L3/L2); for each mc-row block of A, the mc x kc
// block is packed into MR-row panels (it stays in L2); then every MR x NR tile of C is one
// micro-kernel call over kc, with the kc x NR panel of B reused from L1 across the mc rows.
// The first kc slice overwrites C (unless accumulating); later slices add into it, so C is read
// only where a plain loop would read it.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#if defined(_MSC_VER)
#include <malloc.h>
#endif

#include "pool.h"

#define DESCENT_TARGET
#include "pack-inl.h"

namespace descent {

// ---- CPU features -------------------------------------------------------------------------

Features cpu_features() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // libgcc's and compiler-rt's checks include the operating system's support for the ymm/zmm state.
  return {__builtin_cpu_supports("avx2") != 0, __builtin_cpu_supports("fma") != 0, __builtin_cpu_supports("avx512f") != 0};
#else
  return {false, false, false};
#endif
}

bool isa_available(Isa isa) {
  const Features f = cpu_features();
  switch (isa) {
    case Isa::generic:
      return true;
    case Isa::avx2:
      return kernels_avx2() != nullptr && f.avx2 && f.fma;
    case Isa::avx512:
      return kernels_avx512() != nullptr && f.avx512f && f.avx2 && f.fma;
  }
  return false;
}

Isa best_isa() {
  if (isa_available(Isa::avx512)) return Isa::avx512;
  if (isa_available(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "generic";
  }
}

bool parse_isa(const char* name, Isa* out) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (std::strcmp(name, isa_name(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

// ---- the portable kernel set --------------------------------------------------------------

namespace {

// Plain C++ the compiler vectorises with the baseline ISA (SSE2 on x86-64, NEON on arm64). No
// reassociation: every C element is its own sum, accumulated in order over k.
template <int MR, int NR>
void micro_generic(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, bool add, int rows, int cols) {
  float acc[MR][NR] = {};
  for (Index p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += ldb;
  }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

constexpr int kGenericMr = 4;
constexpr int kGenericNr = 8;

}  // namespace

const KernelSet& kernels_generic() {
  static const KernelSet set = {Isa::generic, kGenericMr, kGenericNr, 256, 128, 2048,
                                &micro_generic<kGenericMr, kGenericNr>, &pack_a<kGenericMr>, &pack_b<kGenericNr>};
  return set;
}

const KernelSet& kernels_for(Isa isa) {
  const KernelSet* ks = isa == Isa::avx512 ? kernels_avx512() : isa == Isa::avx2 ? kernels_avx2() : nullptr;
  return ks != nullptr ? *ks : kernels_generic();
}

// ---- the driver ---------------------------------------------------------------------------

namespace {

#if defined(_MSC_VER)
float* aligned_floats(size_t n) { return static_cast<float*>(_aligned_malloc(n * sizeof(float), 64)); }
void free_floats(float* p) { _aligned_free(p); }
#else
float* aligned_floats(size_t n) { return static_cast<float*>(std::aligned_alloc(64, n * sizeof(float))); }
void free_floats(float* p) { std::free(p); }
#endif

// Per-thread packing buffers, kept between calls (a fresh allocation per call would page-fault).
struct Scratch {
  float* a = nullptr;
  float* b = nullptr;
  size_t a_len = 0, b_len = 0;
  // nullptr when the memory cannot be had.
  static float* ensure(float*& p, size_t& len, size_t want) {
    if (want > len) {
      free_floats(p);
      want = (want + 1023) & ~static_cast<size_t>(1023);  // whole 4 KiB pages (aligned_alloc wants a multiple of 64 bytes)
      p = aligned_floats(want);
      len = p != nullptr ? want : 0;
    }
    return p;
  }
  ~Scratch() {
    free_floats(a);
    free_floats(b);
  }
};
thread_local Scratch scratch;

constexpr Index kMinChunkSide = 512;

Index round_up(Index x, Index to) { return (x + to - 1) / to * to; }

// The depth of each k block: k cut into blocks of at most 5/4 kc, as equal as can be (multiples of
// 4), so no thin last block costs a pass over C for little work (k = 288 is one block, not 256 + 32).
// It depends on k alone, never on threads, so the rounding does not change with the thread count.
Index balanced_kc(const KernelSet& ks, Index k) {
  const Index limit = ks.kc + ks.kc / 4;
  const Index blocks = (k + limit - 1) / limit;
  return std::min(k, round_up((k + blocks - 1) / blocks, 4));
}

// Rows [i0, i1) and columns [j0, j1) of C; false when the packing buffers cannot be allocated.
bool gemm_block(const KernelSet& ks, const Gemm& g, Index i0, Index i1, Index j0, Index j1) {
  const Index mr = ks.mr, nr = ks.nr;
  const Index nc_max = round_up(std::min(ks.nc, j1 - j0), nr);
  const Index mc_max = round_up(std::min(ks.mc, i1 - i0), mr);
  const Index kc_max = balanced_kc(ks, g.k);
  float* bp = Scratch::ensure(scratch.b, scratch.b_len, static_cast<size_t>(nc_max * kc_max));
  float* ap = Scratch::ensure(scratch.a, scratch.a_len, static_cast<size_t>(mc_max * kc_max));
  if (bp == nullptr || ap == nullptr) return false;
  // Few rows of C (one block of A): each NR-wide strip of B serves every row tile from L1 right
  // after its first use, so where B's rows are contiguous (cs_b = 1) full strips are read where
  // they lie instead of being packed; packing them would cost more than it saves.
  const bool direct = g.cs_b == 1 && i1 - i0 <= ks.mc;
  for (Index jc = j0; jc < j1; jc += ks.nc) {
    const Index nc = std::min(ks.nc, j1 - jc);
    for (Index pc = 0; pc < g.k; pc += kc_max) {
      const Index kc = std::min(kc_max, g.k - pc);
      const bool add = g.accumulate || pc > 0;
      for (Index jr = 0; jr < nc; jr += nr)
        if (!direct || nc - jr < nr) ks.pack_b(g.b + pc * g.rs_b + (jc + jr) * g.cs_b, g.rs_b, g.cs_b, static_cast<int>(std::min(nr, nc - jr)), kc, bp + jr * kc);
      for (Index ic = i0; ic < i1; ic += ks.mc) {
        const Index mc = std::min(ks.mc, i1 - ic);
        for (Index ir = 0; ir < mc; ir += mr)
          ks.pack_a(g.a + (ic + ir) * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, static_cast<int>(std::min(mr, mc - ir)), kc, ap + ir * kc);
        for (Index jr = 0; jr < nc; jr += nr) {
          const int cols = static_cast<int>(std::min(nr, nc - jr));
          const bool in_place = direct && cols == nr;
          const float* b = in_place ? g.b + pc * g.rs_b + jc + jr : bp + jr * kc;
          const Index ldb = in_place ? g.rs_b : nr;
          for (Index ir = 0; ir < mc; ir += mr) {
            float* c = g.c + (ic + ir) * g.ldc + jc + jr;
            ks.micro(kc, ap + ir * kc, b, ldb, c, g.ldc, add, static_cast<int>(std::min(mr, mc - ir)), cols);
          }
        }
      }
    }
  }
  return true;
}

// A chunk of the product: a contiguous run of NR-column (or MR-row) tiles of C.
struct Split {
  const KernelSet* ks;
  const Gemm* g;
  bool by_columns;
  Index tiles;
  int chunks;
  std::atomic<bool> failed{false};
};

void run_chunk(void* ctx, int chunk) {
  Split& s = *static_cast<Split*>(ctx);
  const Index t0 = s.tiles * chunk / s.chunks, t1 = s.tiles * (chunk + 1) / s.chunks;
  const bool ok = s.by_columns ? gemm_block(*s.ks, *s.g, 0, s.g->m, t0 * s.ks->nr, std::min(s.g->n, t1 * s.ks->nr))
                               : gemm_block(*s.ks, *s.g, t0 * s.ks->mr, std::min(s.g->m, t1 * s.ks->mr), 0, s.g->n);
  if (!ok) s.failed.store(true, std::memory_order_relaxed);
}

// ---- split-K: a small C with a long k (a convolution's weight gradient: 32 x 9 over 43,264) --
// Split along C, such a product has one or two tiles, so one thread would do it all, mostly on
// padding. Instead k is cut into runs of kSplitKRun (fixed, so the result does not depend on the
// thread count), each run's product goes to a partial C of its own, and the partials are added
// in order in float64. C^T = B^T A^T is computed instead when its tiles waste less.
constexpr Index kSplitKRun = 2048;
constexpr Index kSplitKMaxMn = 4096;

struct SplitK {
  const KernelSet* ks;
  Gemm g;          // the product as computed (maybe transposed), accumulate = false
  float* partial;  // runs x (g.m * g.n)
  Index runs;
  std::atomic<bool> failed{false};
};

void run_k_chunk(void* ctx, int run) {
  SplitK& s = *static_cast<SplitK*>(ctx);
  const Index p0 = run * kSplitKRun, p1 = std::min(s.g.k, p0 + kSplitKRun);
  Gemm sub = s.g;
  sub.a += p0 * s.g.cs_a;
  sub.b += p0 * s.g.rs_b;
  sub.k = p1 - p0;
  sub.c = s.partial + run * s.g.m * s.g.n;
  sub.ldc = s.g.n;
  if (!gemm_block(*s.ks, sub, 0, sub.m, 0, sub.n)) s.failed.store(true, std::memory_order_relaxed);
}

Index padded_area(const KernelSet& ks, Index rows, Index cols) { return round_up(rows, ks.mr) * round_up(cols, ks.nr); }

bool split_k_fits(const KernelSet& ks, const Gemm& g) {
  return g.k >= 2 * kSplitKRun && g.m * g.n <= kSplitKMaxMn && std::min(padded_area(ks, g.m, g.n), padded_area(ks, g.n, g.m)) <= kSplitKMaxMn * 2;
}

bool sgemm_split_k(const KernelSet& ks, const Gemm& g, int threads) {
  const bool transpose = padded_area(ks, g.n, g.m) < padded_area(ks, g.m, g.n);
  SplitK s;
  s.ks = &ks;
  s.g = transpose ? Gemm{g.n, g.m, g.k, g.b, g.cs_b, g.rs_b, g.a, g.cs_a, g.rs_a, nullptr, g.m, false} : g;
  s.g.accumulate = false;
  s.runs = (g.k + kSplitKRun - 1) / kSplitKRun;
  const Index mn = g.m * g.n;
  s.partial = aligned_floats(static_cast<size_t>(round_up(s.runs * mn, 16)));
  if (s.partial == nullptr) return false;
  const Index parts = std::min<Index>(threads, s.runs);
  if (parts <= 1) {
    for (Index r = 0; r < s.runs; ++r) run_k_chunk(&s, static_cast<int>(r));
  } else {
    Pool::instance().run(static_cast<int>(s.runs), static_cast<int>(parts - 1), &run_k_chunk, &s);
  }
  const bool ok = !s.failed.load(std::memory_order_relaxed);
  if (ok) {
    for (Index i = 0; i < g.m; ++i)
      for (Index j = 0; j < g.n; ++j) {
        const Index at = transpose ? j * g.m + i : i * g.n + j;
        double sum = g.accumulate ? static_cast<double>(g.c[i * g.ldc + j]) : 0.0;
        for (Index r = 0; r < s.runs; ++r) sum += static_cast<double>(s.partial[r * mn + at]);
        g.c[i * g.ldc + j] = static_cast<float>(sum);
      }
  }
  free_floats(s.partial);
  return ok;
}

}  // namespace

bool sgemm(const KernelSet& ks, const Gemm& g, int threads) {
  if (g.m <= 0 || g.n <= 0) return true;
  if (g.k <= 0) {
    if (!g.accumulate)
      for (Index i = 0; i < g.m; ++i) std::fill(g.c + i * g.ldc, g.c + i * g.ldc + g.n, 0.0f);
    return true;
  }
  // Split the longer side of C into runs of whole tiles, each worth waking a thread for (about
  // kSerialWork multiply-adds). Every chunk packs the whole of the other operand again, so chunks
  // stay at least kMinChunkSide rows or columns wide: at that width the repacking costs a few
  // percent. Beyond one chunk per thread, spare chunks let a thread that started late (asleep,
  // or busy with other work) take less of the product.
  if (split_k_fits(ks, g)) return sgemm_split_k(ks, g, threads);
  const double work = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  const Index tiles_m = (g.m + ks.mr - 1) / ks.mr, tiles_n = (g.n + ks.nr - 1) / ks.nr;
  const bool by_columns = tiles_n >= tiles_m;
  const Index tiles = by_columns ? tiles_n : tiles_m;
  const Index side = by_columns ? g.n : g.m;
  Index parts = std::min<Index>({threads, tiles, static_cast<Index>(work / kSerialWork)});
  if (parts <= 1) return gemm_block(ks, g, 0, g.m, 0, g.n);
  const Index chunks = std::max(parts, std::min({parts * 4, side / kMinChunkSide, tiles, static_cast<Index>(Pool::kMaxChunks)}));
  Split split{&ks, &g, by_columns, tiles, static_cast<int>(chunks)};
  Pool::instance().run(split.chunks, static_cast<int>(parts - 1), &run_chunk, &split);
  return !split.failed.load(std::memory_order_relaxed);
}

}  // namespace descent
