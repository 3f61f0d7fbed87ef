/**
 * What the native addon's tests share: loading it (a missing build fails the tests unless
 * DESCENT_SKIP_NATIVE=1 says this machine cannot build it), a shared WebAssembly.Memory holding
 * the operands as the wasm backend holds them, and a float64 reference.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadNative, nativeStatus } from '../../src/backend/native/addon.js';
import type { NativeAddon, NativeIsa } from '../../src/backend/native/addon.js';

const skip =
  process.env.DESCENT_SKIP_NATIVE === '1'
    ? 'DESCENT_SKIP_NATIVE=1: the native addon is not built on this machine'
    : process.env.DESCENT_NATIVE === '0'
      ? 'DESCENT_NATIVE=0: the native kernels are turned off'
      : undefined;
const loaded = skip === undefined ? loadNative() : null;

/** The addon, or null when the suite is skipped (see skipSuite) or it failed to load. */
export const native: NativeAddon | null = loaded;
/** Why a file's suite does not run: on purpose (skip variables) or because the addon did not load. */
export const skipSuite = skip ?? (loaded === null ? 'the addon did not load: see the failing test above' : undefined);

/** A failing test, where the addon should have loaded and did not, naming the reason and the fix. */
export function expectLoaded(): void {
  if (skip !== undefined || loaded !== null) return;
  it('the native addon is built and loads', () => {
    const reason = nativeStatus().reason ?? 'unknown reason';
    const hint = /npm run build:native|DESCENT_NATIVE_ISA/.test(reason) ? '' : '; run `npm run build:native` to rebuild it';
    assert.fail(`the native addon is unavailable: ${reason}${hint} (or set DESCENT_SKIP_NATIVE=1 on a machine that cannot build it)`);
  });
}

/** The kernel paths this CPU can run. */
export function pathsOnThisCpu(addon: NativeAddon): NativeIsa[] {
  const f = addon.features();
  return (['generic', 'avx2', 'avx512'] as const).filter(
    (isa) => isa === 'generic' || (isa === 'avx2' && f.avx2 && f.fma) || (isa === 'avx512' && f.avx512f && f.avx2 && f.fma),
  );
}

/** The path selected at load (restored by reset()). */
export const initialIsa = loaded?.isa();

export const memory = new WebAssembly.Memory({ initial: 512, maximum: 1024, shared: true }); // 32 MiB
export const f32 = new Float32Array(memory.buffer);
export const u32 = new Uint32Array(memory.buffer);
let top = 0; // next free float index

/** Frees every operand, points the addon at the test memory and selects the path chosen at load. */
export function reset(): void {
  top = 0;
  native?.setMemory(new Uint8Array(memory.buffer));
  if (initialIsa !== undefined) native?.setIsa(initialIsa);
}

/** Frees every operand (they stay where they are until overwritten). */
export function freeAll(): void {
  top = 0;
}

/** Seeded uniform numbers in [-1, 1) (mulberry32), so a failure reproduces. */
let seed = 12345;
export function uniform(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
}

/** A matrix in the memory: element (i, j) is f32[base + i * rs + j * cs]; `off` is base in bytes. */
export interface Mat {
  rows: number;
  cols: number;
  base: number;
  rs: number;
  cs: number;
  off: number;
}
export type Layout = 'row' | 'col' | 'strided' | 'negative';

/**
 * Places a rows x cols matrix: row-major, column-major (a transpose), with gaps between elements
 * (filled with NaN, so a stray read poisons the result) or with negative strides.
 */
export function place(rows: number, cols: number, layout: Layout, value: (i: number, j: number) => number): Mat {
  const [rs, cs] = layout === 'row' ? [cols, 1] : layout === 'col' ? [1, rows] : layout === 'strided' ? [2 * cols + 3, 2] : [-cols, -1];
  const span = (rows - 1) * Math.abs(rs) + (cols - 1) * Math.abs(cs) + 1;
  const start = (top + 3) & ~3;
  top = start + span + 4;
  assert.ok(top <= f32.length, 'test memory exhausted');
  f32.fill(NaN, start, top);
  const base = layout === 'negative' ? start + span - 1 : start;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) f32[base + i * rs + j * cs] = value(i, j);
  return { rows, cols, base, rs, cs, off: 4 * base };
}

const at = (x: Mat, i: number, j: number): number => f32[x.base + i * x.rs + j * x.cs]!;
export const random = (): number => Math.fround(uniform());

/** C with row stride n + 3; the gaps hold a sentinel bit pattern that must survive. */
const SENTINEL = 0x7fc0dead;
export function placeC(m: number, n: number, value: (i: number, j: number) => number): Mat {
  const c = place(m, n + 3, 'row', (i, j) => (j < n ? value(i, j) : 0));
  for (let i = 0; i < m; i++) u32.fill(SENTINEL, c.base + i * c.rs + n, c.base + i * c.rs + n + 3);
  return { ...c, cols: n };
}

/** The plain loop in float64: s = 0; s += A(i,p) B(p,j) in order; and sum_p |A(i,p) B(p,j)|. */
export function reference(a: Mat, b: Mat): { sum: Float64Array; mag: Float64Array } {
  const m = a.rows,
    k = a.cols,
    n = b.cols;
  const sum = new Float64Array(m * n),
    mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0,
        g = 0;
      for (let p = 0; p < k; p++) {
        const x = at(a, i, p) * at(b, p, j);
        s += x;
        g += Math.abs(x);
      }
      sum[i * n + j] = s;
      mag[i * n + j] = g;
    }
  }
  return { sum, mag };
}

export function sgemm(addon: NativeAddon, a: Mat, b: Mat, c: Mat, accumulate: 0 | 1, threads: number): void {
  addon.sgemm(a.rows, b.cols, a.cols, a.off, a.rs, a.cs, b.off, b.rs, b.cs, c.off, c.rs, accumulate, threads);
}

export function readC(c: Mat): Float32Array {
  const out = new Float32Array(c.rows * c.cols);
  for (let i = 0; i < c.rows; i++) out.set(f32.subarray(c.base + i * c.rs, c.base + i * c.rs + c.cols), i * c.cols);
  return out;
}

/**
 * Every element within float32 rounding of the reference: |c - ref| <= 4 (k + 1) 2^-24 (sum |a b|
 * + |c0|) (the bound of a length-k float32 dot product, twice over), plus k + 1 units of the
 * smallest subnormal for products that underflow. NaN where the reference is NaN, the same
 * infinity where it is infinite: which outputs those are does not depend on the order of the sums.
 */
export function assertClose(got: Float32Array, want: Float64Array, mag: Float64Array, k: number, label: string): void {
  for (let e = 0; e < want.length; e++) {
    const x = got[e]!,
      y = want[e]!;
    if (!Number.isFinite(y)) {
      assert.ok(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)), `${label}: element ${e}: ${x}, expected ${y}`);
      continue;
    }
    const tol = 4 * (k + 1) * 2 ** -24 * mag[e]! + (k + 1) * 2 ** -149;
    assert.ok(Math.abs(x - y) <= tol, `${label}: element ${e}: ${x}, expected ${y} (tolerance ${tol})`);
  }
}

export function assertGapsKept(c: Mat): void {
  for (let i = 0; i < c.rows; i++)
    for (let j = c.cols; j < c.cols + 3; j++) assert.equal(u32[c.base + i * c.rs + j], SENTINEL, `C's gap at row ${i} was written`);
}

/**
 * One product on every path: overwriting (C starts as NaN, which must vanish) and accumulating
 * into random C0; on one thread and on `threads`, which must agree bit for bit (each element's
 * sum runs in the same order whichever thread computes it).
 */
export function checkProduct(addon: NativeAddon, isas: NativeIsa[], a: Mat, b: Mat, label: string, threads = 2): void {
  const m = a.rows,
    n = b.cols,
    k = a.cols;
  const { sum, mag } = reference(a, b);
  const c0 = Float32Array.from({ length: m * n }, random);
  const withC0 = sum.map((s, e) => c0[e]! + s);
  const magC0 = mag.map((g, e) => g + Math.abs(c0[e]!));
  for (const isa of isas) {
    addon.setIsa(isa);
    for (const accumulate of [0, 1] as const) {
      const c = placeC(m, n, (i, j) => (accumulate ? c0[i * n + j]! : NaN));
      sgemm(addon, a, b, c, accumulate, 1);
      const one = readC(c);
      assertClose(one, accumulate ? withC0 : sum, accumulate ? magC0 : mag, k, `${label} ${isa} accumulate=${accumulate}`);
      assertGapsKept(c);
      const c2 = placeC(m, n, (i, j) => (accumulate ? c0[i * n + j]! : NaN));
      sgemm(addon, a, b, c2, accumulate, threads);
      assert.deepEqual(readC(c2), one, `${label} ${isa} accumulate=${accumulate}: ${threads} threads differ from one`);
    }
  }
}
