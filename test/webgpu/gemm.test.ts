/**
 * Both WebGPU GEMMs, each forced on whatever adapter is here (SwiftShader in CI): the
 * workgroup-memory tiled one (src/backend/webgpu/wgsl-gemm.ts, the default on GPUs) and the
 * barrier-free register-blocked one (wgsl-reduce.ts matmulWgsl, the default on CPU adapters),
 * against the reference: the backend contract's matmul case, then edge tiles (sizes around the
 * tiled kernel's 64 x 64 tile and K step of 16, the register kernel's 8 x 8 blocks, its 64 and 128
 * wide workgroup tiles and the size where it switches between them, including 1 and primes) in all
 * four transpose layouts, batched with offsets and with a shared B, and NaN / Infinity among the
 * inputs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MatmulLayout } from '../../src/backend/backend.js';
import { createWebgpuBackend } from '../../src/backend/webgpu/index.js';
import type { WebgpuBackend } from '../../src/backend/webgpu/index.js';
import type { GemmKernel } from '../../src/backend/webgpu/wgsl-gemm.js';
import { gemmKernelFor, parseGemmKernel } from '../../src/backend/webgpu/wgsl-gemm.js';
import { matmulGrid } from '../../src/backend/webgpu/wgsl-reduce.js';
import { CONTRACT } from '../backend/contract-cases.js';
import { Contract, eps } from '../backend/contract.js';

/** Batch b of A starts at aStart + b * aStride (B likewise); bStride 0: every batch reads the same B. */
function layout(m: number, n: number, k: number, transA: boolean, transB: boolean, batch = 1, aStart = 0, bStride = k * n): MatmulLayout {
  const aOffsets = Array.from({ length: batch }, (_, i) => aStart + i * m * k);
  const bOffsets = Array.from({ length: batch }, (_, i) => i * bStride);
  return { batch, m, n, k, transA, transB, aOffsets, bOffsets };
}

/** Sizes of A and B that a layout reads. */
const extent = (l: MatmulLayout): [number, number] => [l.aOffsets.at(-1)! + l.m * l.k, l.bOffsets.at(-1)! + l.k * l.n];

/**
 * One product on the backend and the reference, checked within the bound of float32 sums,
 * |error| <= 2 k eps sum_kk |a_ikk b_kkj| (the reference run on |A| and |B| gives the sum).
 */
function gemmCase(c: Contract, l: MatmulLayout, kernel: GemmKernel): void {
  const [aSize, bSize] = extent(l);
  const av = c.values(aSize),
    bv = c.values(bSize);
  const [ar, at] = c.pair('float32', av),
    [br, bt] = c.pair('float32', bv),
    [aa] = c.pair('float32', av.map(Math.abs)),
    [ba] = c.pair('float32', bv.map(Math.abs));
  const size = l.batch * l.m * l.n,
    [or, ot] = c.out('float32', size),
    [abs] = c.out('float32', size);
  c.ref.matmul(ar, br, or, l);
  c.backend.matmul(at, bt, ot, l);
  c.ref.matmul(aa, ba, abs, l);
  const s = abs.data,
    k = Math.max(1, l.k);
  c.check(ot, or, `${kernel} matmul batch=${l.batch} m=${l.m} n=${l.n} k=${l.k} tA=${l.transA} tB=${l.transB}`, {
    tol: (i) => 2 * k * eps('float32') * s[i]! + 1e-30,
    terms: k,
  });
}

/**
 * m, n, k around the tiled kernel's tile (64) and K step (16), the register kernel's blocks (8),
 * K step (2) and tiles (64, 128): 1, primes, one short and one past; 520 x 513 has 65 x 65 blocks,
 * past the 4096 where the register kernel takes 16 x 16 workgroups.
 */
const SHAPES = [
  [9, 7, 3],
  [127, 129, 5],
  [520, 513, 7],
  [1, 1, 1],
  [3, 17, 5],
  [17, 3, 16],
  [63, 65, 17],
  [65, 63, 33],
  [130, 67, 31],
  [64, 64, 64],
  [1, 130, 65],
  [130, 1, 3],
] as const;
const LAYOUTS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('webgpu GEMM kernel choice', () => {
  it('is the default on GPUs, not on CPU adapters; an override is checked', () => {
    assert.equal(gemmKernelFor('swiftshader', false), 'registers');
    assert.equal(gemmKernelFor('', true), 'registers');
    assert.equal(gemmKernelFor('ampere', false), 'tiled');
    assert.equal(parseGemmKernel(undefined), undefined);
    assert.equal(parseGemmKernel(''), undefined);
    assert.equal(parseGemmKernel('registers'), 'registers');
    assert.throws(() => parseGemmKernel('fast'), /unknown GEMM kernel 'fast' \(expected 'tiled' or 'registers'\)/);
  });

  it('gives the register kernel 16 x 16 workgroups from 4096 blocks of 8 x 8, 8 x 8 below', () => {
    assert.equal(matmulGrid(512, 512), 16);
    assert.equal(matmulGrid(520, 513), 16);
    assert.equal(matmulGrid(512, 497), 8);
    assert.equal(matmulGrid(256, 256), 8);
  });
});

for (const kernel of ['tiled', 'registers'] as const)
  describe(`webgpu ${kernel} GEMM`, () => {
    let b: WebgpuBackend | string = 'not made yet';
    before(async () => {
      b = await createWebgpuBackend({ gemm: kernel }).catch((e: Error) => `webgpu unavailable here: ${e.message}`);
    });
    it('passes the backend contract for matmul', async (t) => {
      if (typeof b === 'string') return t.skip(b);
      assert.equal(b.gemm, kernel);
      const c = new Contract(b, 101);
      try {
        CONTRACT.matmul(c);
        await c.settle();
      } finally {
        c.done();
      }
    });

    it('matches the reference on edge tiles in every transpose layout, batched and with a shared B', async (t) => {
      if (typeof b === 'string') return t.skip(b);
      const c = new Contract(b, 102);
      try {
        for (const [tA, tB] of LAYOUTS) {
          for (const [m, n, k] of SHAPES) gemmCase(c, layout(m, n, k, tA, tB), kernel);
          gemmCase(c, layout(65, 17, 19, tA, tB, 3, 7), kernel); // batches at odd offsets
          gemmCase(c, layout(33, 70, 18, tA, tB, 4, 0, 0), kernel); // every batch reads the same B
        }
        gemmCase(c, layout(5, 7, 0, false, false, 2), kernel); // k = 0: zeros
        await c.settle();
      } finally {
        c.done();
      }
    });

    it('carries NaN and Infinity as the reference does, and keeps them out of other outputs', async (t) => {
      if (typeof b === 'string') return t.skip(b);
      // rows 0 and 1 of A hold NaN and +Inf, column 2 of B -Inf: the outputs in those rows or that
      // column are NaN or infinite (Inf - Inf = NaN), every other output is finite. The staged zeros
      // past m, n and k multiply zeros only, so they must not turn a finite output into NaN (0 * Inf).
      const [m, n, k] = [65, 67, 17];
      const g = new Contract(b, 103);
      for (const [tA, tB] of LAYOUTS) {
        const av = g.values(m * k),
          bv = g.values(k * n);
        const aAt = (i: number, kk: number) => (tA ? kk * m + i : i * k + kk);
        const bAt = (kk: number, j: number) => (tB ? j * k + kk : kk * n + j);
        av[aAt(0, 3)] = NaN;
        av[aAt(1, 16)] = Infinity;
        bv[bAt(5, 2)] = -Infinity;
        const l = layout(m, n, k, tA, tB);
        const out = b.alloc('float32', m * n),
          ref = g.ref.alloc('float32', m * n);
        const [ar, at] = g.pair('float32', av),
          [br, bt] = g.pair('float32', bv);
        b.matmul(at, bt, out, l);
        g.ref.matmul(ar, br, ref, l);
        const x = new Float32Array(await out.read!());
        for (let i = 0; i < m * n; i++) {
          const e = ref.data[i]!,
            label = `tA=${tA} tB=${tB} element ${i}: ${x[i]} vs reference ${e}`;
          if (Number.isFinite(e)) assert.ok(Math.abs(x[i]! - e) <= 2 * k * eps('float32') * 20, label);
          // SwiftShader's arithmetic is IEEE here; the backend promises only finite values elsewhere
          else if (b.adapter.includes('swiftshader')) assert.ok(Object.is(x[i], e) || (Number.isNaN(x[i]) && Number.isNaN(e)), label);
        }
        out.release();
        ref.release();
      }
      g.done();
    });
  });
