/** The wasm backend's GEMM against the reference matmul: odd sizes, transposed layouts, batches, threads. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MatmulLayout } from '../../src/backend/backend.js';
import { getNumThreads, setNumThreads } from '../../src/backend/index.js';
import { Generator } from '../../src/index.js';
import { ModuleBuilder } from '../../src/backend/wasm/asm.js';
import { emitGemm, GEMM_WORK_BYTES } from '../../src/backend/wasm/gemm.js';
import { assertSame, jsBackend, pair, randomValues, release, wasmBackend } from './kernels.js';

const g = new Generator(7);
const SIZES = [1, 3, 7, 33, 257];

/**
 * Run one layout on both backends. The wasm result accumulates in float32, so it may differ from
 * the reference (float64 accumulation, one rounding) by the standard bound for a length-k dot
 * product: |error| <= gamma_k * sum_p |A(i,p)| |B(p,j)| with gamma_k ~ k * 2^-24; we allow twice that.
 * With `special`, NaN, +-Infinity, +-0 and subnormals are mixed into A and B. The order of the
 * additions does not decide which outputs are NaN or infinite: an output is NaN exactly when one
 * of its products is (NaN, 0 * Inf, also as a fused multiply-add) or infinite products of both
 * signs meet, and +-Infinity when infinite products of one sign only occur (the finite ones, at most
 * k in magnitude here, overflow nothing). So those outputs must be the reference's exactly.
 */
function check(l: MatmulLayout, aSize: number, bSize: number, label: string, special = false): void {
  const av = randomValues(g, aSize, special),
    bv = randomValues(g, bSize, special);
  const [aj, aw] = pair('float32', av),
    [bj, bw] = pair('float32', bv);
  const outSize = l.batch * l.m * l.n;
  const oj = jsBackend.alloc('float32', outSize),
    ow = wasmBackend.alloc('float32', outSize);
  jsBackend.matmul(aj, bj, oj, l);
  wasmBackend.matmul(aw, bw, ow, l);
  // the bound's sum of |products|: the reference product of the absolute values
  const [aa] = pair('float32', av.map(Math.abs)),
    [ba] = pair('float32', bv.map(Math.abs));
  const bound = jsBackend.alloc('float32', outSize);
  jsBackend.matmul(aa, ba, bound, l);
  const x = ow.data,
    y = oj.data,
    s = bound.data;
  for (let i = 0; i < outSize; i++) {
    if (!Number.isFinite(y[i]!)) {
      assert.ok(Object.is(x[i], y[i]) || (Number.isNaN(x[i]!) && Number.isNaN(y[i]!)), `${label}: element ${i}: ${x[i]} vs ${y[i]}`);
      continue;
    }
    const tol = 2 * l.k * 2 ** -24 * s[i]! + 1e-30;
    assert.ok(Math.abs(x[i]! - y[i]!) <= tol, `${label}: element ${i}: ${x[i]} vs ${y[i]} (tolerance ${tol})`);
  }
  release(aj, aw, bj, bw, oj, ow, aa, ba, bound);
}

function layout(m: number, n: number, k: number, transA: boolean, transB: boolean, batch = 1, aStride = m * k, bStride = k * n): MatmulLayout {
  return {
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: Array.from({ length: batch }, (_, b) => b * aStride),
    bOffsets: Array.from({ length: batch }, (_, b) => b * bStride),
  };
}

describe('wasm GEMM vs reference', () => {
  it('every (m, n, k) from {1, 3, 7, 33, 257} in all four transpose layouts', () => {
    for (const m of SIZES)
      for (const n of SIZES)
        for (const k of SIZES) {
          if (m * n * k > 257 * 257 * 33) continue; // keep the reference's time down
          for (const tA of [false, true])
            for (const tB of [false, true]) check(layout(m, n, k, tA, tB), m * k, k * n, `m=${m} n=${n} k=${k} tA=${tA} tB=${tB}`);
        }
  });

  it('NaN, +-Infinity, +-0 and subnormals in A and B: NaN and infinities where the reference has them, for every size and layout', () => {
    for (const m of SIZES)
      for (const n of SIZES)
        for (const k of SIZES) {
          if (m * n * k > 257 * 33 * 33) continue;
          for (const tA of [false, true])
            for (const tB of [false, true]) check(layout(m, n, k, tA, tB), m * k, k * n, `special m=${m} n=${n} k=${k} tA=${tA} tB=${tB}`, true);
        }
    // a zero row of A against a row of B holding Inf and NaN: 0 * Inf = NaN, never skipped
    const [aj, aw] = pair('float32', [0, 0, 1, 0]),
      [bj, bw] = pair('float32', [Infinity, 1, NaN, 2]);
    const oj = jsBackend.alloc('float32', 4),
      ow = wasmBackend.alloc('float32', 4);
    jsBackend.matmul(aj, bj, oj, layout(2, 2, 2, false, false));
    wasmBackend.matmul(aw, bw, ow, layout(2, 2, 2, false, false));
    // [[0, 0], [1, 0]] @ [[Inf, 1], [NaN, 2]]: row 0 = [0 Inf + 0 NaN, 0 + 0] = [NaN, 0]; row 1 = [Inf + 0 NaN, 1 + 0] = [NaN, 1]
    assertSame(oj.data, [NaN, 0, NaN, 1], 'reference');
    assertSame(ow.data, [NaN, 0, NaN, 1], 'wasm');
    release(aj, aw, bj, bw, oj, ow);
  });

  it('1023-sized dimensions cross the cache blocks (KC=256, MC=128) with ragged edges', () => {
    check(layout(1023, 33, 7, false, false), 1023 * 7, 7 * 33, 'm=1023');
    check(layout(1023, 33, 7, false, false), 1023 * 7, 7 * 33, 'm=1023, special values', true);
    check(layout(9, 17, 1023, false, true), 9 * 1023, 1023 * 17, 'k=1023 tB, special values', true);
    check(layout(7, 1023, 300, true, false), 7 * 300, 300 * 1023, 'n=1023 tA');
    check(layout(9, 17, 1023, false, true), 9 * 1023, 1023 * 17, 'k=1023 tB');
  });

  it('batched offsets, including a broadcast operand (all batches read the same B)', () => {
    check(layout(5, 9, 6, false, false, 3), 3 * 30, 3 * 54, 'batch 3');
    check(layout(5, 9, 6, true, true, 4, 30, 0), 4 * 30, 54, 'batch 4, shared B');
  });

  it('k = 0 gives zeros; float64 products take the reference path and agree exactly', () => {
    const [aj, aw] = pair('float32', []),
      [bj, bw] = pair('float32', []);
    const ow = wasmBackend.alloc('float32', 6);
    ow.data.fill(5);
    wasmBackend.matmul(aw, bw, ow, layout(2, 3, 0, false, false));
    assert.deepEqual([...ow.data], [0, 0, 0, 0, 0, 0]);
    const av = randomValues(g, 12),
      bv = randomValues(g, 12);
    const [a64j, a64w] = pair('float64', av),
      [b64j, b64w] = pair('float64', bv);
    const oj = jsBackend.alloc('float64', 9),
      ow2 = wasmBackend.alloc('float64', 9);
    jsBackend.matmul(a64j, b64j, oj, layout(3, 3, 4, false, true));
    wasmBackend.matmul(a64w, b64w, ow2, layout(3, 3, 4, false, true));
    assert.deepEqual([...ow2.data], [...oj.data]);
    release(aj, aw, bj, bw, ow, a64j, a64w, b64j, b64w, oj, ow2);
  });

  it('threads: the split product equals the single-thread product bit for bit (column and row splits)', () => {
    const before = getNumThreads();
    try {
      for (const [m, n, k] of [
        [96, 520, 130],
        [530, 64, 100],
      ] as const) {
        const [, aw] = pair('float32', randomValues(g, m * k)),
          [, bw] = pair('float32', randomValues(g, k * n));
        const one = wasmBackend.alloc('float32', m * n),
          two = wasmBackend.alloc('float32', m * n);
        setNumThreads(1);
        wasmBackend.matmul(aw, bw, one, layout(m, n, k, false, true));
        setNumThreads(2);
        wasmBackend.matmul(aw, bw, two, layout(m, n, k, false, true));
        // each output element is computed by the same instruction sequence whichever thread runs it
        assert.deepEqual([...two.data], [...one.data], `m=${m} n=${n} k=${k}`);
        release(aw, bw, one, two);
      }
    } finally {
      setNumThreads(before);
    }
  });

  it("relaxed SIMD's multiply-add changes roundings only: NaN, infinities, zeros and subnormals come out as with mul + add", () => {
    // measured on Node 20 / x86-64: relaxed_madd fuses, and about 80% of a [37, 300] x [300, 29]
    // product's elements differ from mul + add in the last bits, all within the error bound; the
    // backend's guarantees (specials 'ieee', subnormals 'kept') hold either way
    const [m, n, k] = [37, 29, 33];
    const run = (relaxed: boolean, av: Float64Array, bv: Float64Array): Float32Array => {
      const mb = new ModuleBuilder({ initial: 64, maximum: 64, shared: false });
      emitGemm(mb, relaxed);
      const mem = new WebAssembly.Memory({ initial: 64, maximum: 64 });
      const gemmF32 = new WebAssembly.Instance(new WebAssembly.Module(mb.bytes()), { env: { mem } }).exports.gemm_f32 as (...a: number[]) => void;
      const f32 = new Float32Array(mem.buffer),
        A = 0,
        B = 4 * m * k,
        C = B + 4 * k * n,
        W = C + 4 * m * n;
      f32.set(av, A / 4);
      f32.set(bv, B / 4);
      gemmF32(m, n, k, A, k * 4, 4, B, n * 4, 4, C, n * 4, W);
      return f32.slice(C / 4, C / 4 + m * n);
    };
    // specials in A (NaN, +-Inf, +-0, subnormals); every fourth row of A scaled by 1e-36 and B by
    // 1e-3, so that those rows' products and sums are subnormal (~1e-39)
    const av = randomValues(g, m * k, true).map((v, q) => (Math.floor(q / k) % 4 === 0 ? v * 1e-36 : v)),
      bv = randomValues(g, k * n).map((v) => v * 1e-3);
    const fused = run(true, av, bv),
      plain = run(false, av, bv);
    const kind = (x: number) =>
      Number.isNaN(x) ? 'NaN' : !Number.isFinite(x) ? String(x) : x === 0 ? 'zero' : Math.abs(x) < 2 ** -126 ? 'subnormal' : 'normal';
    let subnormals = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0,
          bound = 0;
        for (let p = 0; p < k; p++) {
          const t = Math.fround(av[i * k + p]!) * bv[p * n + j]!;
          s += t;
          bound += Math.abs(t);
        }
        const q = i * n + j,
          label = `(${i}, ${j}): fused ${fused[q]}, mul + add ${plain[q]}, exact ${s}`;
        if (!Number.isFinite(s)) {
          assert.ok(kind(fused[q]!) === kind(s) && kind(plain[q]!) === kind(s), label);
          continue;
        }
        // the GEMM bound, plus half the subnormal spacing for each rounding below 2^-126
        const tol = 2 * k * 2 ** -24 * bound + k * 2 ** -149;
        assert.ok(Math.abs(fused[q]! - s) <= tol && Math.abs(plain[q]! - s) <= tol, label);
        if (kind(plain[q]!) === 'subnormal') {
          subnormals++;
          assert.equal(kind(fused[q]!), 'subnormal', label);
        }
      }
    assert.ok(subnormals > 0, 'some outputs are subnormal');
  });

  it('without relaxed SIMD (mul + add) and on an unshared memory, the same GEMM agrees with the reference', () => {
    const mb = new ModuleBuilder({ initial: 64, maximum: 64, shared: false });
    emitGemm(mb, false);
    const mem = new WebAssembly.Memory({ initial: 64, maximum: 64 });
    const gemmF32 = new WebAssembly.Instance(new WebAssembly.Module(mb.bytes()), { env: { mem } }).exports.gemm_f32 as (...a: number[]) => void;
    const f32 = new Float32Array(mem.buffer);
    const [m, n, k] = [37, 29, 300];
    const av = randomValues(g, m * k).map(Math.fround),
      bv = randomValues(g, k * n).map(Math.fround);
    const A = 0,
      B = 4 * m * k,
      C = B + 4 * k * n,
      W = C + 4 * m * n;
    assert.ok(W + GEMM_WORK_BYTES <= mem.buffer.byteLength);
    f32.set(av, A / 4);
    f32.set(bv, B / 4);
    // both row-major: A(i, p) at i*k + p, B(p, j) at p*n + j (strides in bytes)
    gemmF32(m, n, k, A, k * 4, 4, B, n * 4, 4, C, n * 4, W);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0,
          bound = 0;
        for (let p = 0; p < k; p++) {
          s += av[i * k + p]! * bv[p * n + j]!;
          bound += Math.abs(av[i * k + p]! * bv[p * n + j]!);
        }
        assert.ok(Math.abs(f32[C / 4 + i * n + j]! - s) <= 2 * k * 2 ** -24 * bound + 1e-30, `(${i}, ${j})`);
      }
  });
});
