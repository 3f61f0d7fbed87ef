// Float32 GEMM on raw pointers: the kernel sets of each ISA and the blocked, threaded driver.
// Nothing here knows about Node-API; addon.cc validates arguments and calls sgemm().
#pragma once

#include <cstddef>

namespace descent {

// Element counts and strides (64-bit wherever pointers are; `long` is 32-bit on Windows).
using Index = std::ptrdiff_t;

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

struct Features {
  bool avx2, fma, avx512f;
};

Features cpu_features();
bool isa_available(Isa isa);
Isa best_isa();
const char* isa_name(Isa isa);
bool parse_isa(const char* name, Isa* out);

// C[0:rows, 0:cols] = (add ? C : 0) + Ap * Bp, where Ap is a packed kc x MR panel (element
// (i, p) at a[p * MR + i]) and Bp a kc x NR panel with rows ldb apart (element (p, j) at
// b[p * ldb + j]: ldb = NR for a packed panel, B's row stride when B is read where it lies).
// rows <= MR and cols <= NR; only those are read or written in C (all NR columns of B are read).
using MicroKernel = void (*)(Index kc, const float* a, const float* b, Index ldb, float* c, Index ldc, bool add, int rows, int cols);
// Packs rows (<= MR) rows and kc columns of A (element (i, p) at a[i * rs + p * cs]) into one
// MR panel, rows beyond `rows` zero. PackB likewise packs cols (<= NR) columns of B.
using PackA = void (*)(const float* a, Index rs, Index cs, int rows, Index kc, float* out);
using PackB = void (*)(const float* b, Index rs, Index cs, int cols, Index kc, float* out);

struct KernelSet {
  Isa isa;
  int mr, nr;       // register tile of C
  Index kc, mc, nc;  // cache blocks (mc a multiple of mr): kc x nr of B stays in L1, mc x kc of A in L2, kc x nc of B in L3
  MicroKernel micro;
  PackA pack_a;
  PackB pack_b;
};

const KernelSet& kernels_generic();
const KernelSet* kernels_avx2();    // nullptr where not compiled (not x86-64 GCC/Clang)
const KernelSet* kernels_avx512();  // idem
const KernelSet& kernels_for(Isa isa);

// C[i * ldc + j] (+)= sum_p A[i * rs_a + p * cs_a] * B[p * rs_b + j * cs_b], 0 <= i < m, 0 <= j < n.
// Strides are in elements and may be any sign; C must not overlap A or B.
struct Gemm {
  Index m, n, k;
  const float* a;
  Index rs_a, cs_a;
  const float* b;
  Index rs_b, cs_b;
  float* c;
  Index ldc;
  bool accumulate;
};

// Each thread of a product gets at least this many multiply-adds (2^19, a few microseconds of
// work), so products under twice that run on the calling thread alone: waking a sleeping pool
// thread costs tens of microseconds (more on a virtual machine), which a smaller share of work
// never wins back. (At 2^17 the classifier head's products, 128 x 10 x 256, took 23 us on two
// threads and 16 us on one; 128 x 256 x 10, 22 us against 9.)
constexpr double kSerialWork = 524288.0;

// False when the packing buffers could not be allocated (C is then partly written).
bool sgemm(const KernelSet& ks, const Gemm& g, int threads);

}  // namespace descent
