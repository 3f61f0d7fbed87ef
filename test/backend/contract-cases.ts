/**
 * The contract of each kernel (see contract.ts for the rules): one case per method of the Backend
 * interface, typed over the method names, so a kernel added to the interface without its case
 * does not compile.
 */
import assert from 'node:assert/strict';
import type { BinaryOp, MatmulLayout, UnaryOp, WindowLayout } from '../../src/backend/backend.js';
import { col2imReference, windowArgmaxReference } from '../../src/backend/js/conv.js';
import type { DType } from '../../src/core/dtype.js';
import { contiguousStrides, shapeSize } from '../../src/core/shape.js';
import type { Storage } from '../../src/core/storage.js';
import { eps, SIZES, ulp } from './contract.js';
import type { Contract, ContractCase, KernelName } from './contract.js';

const FLOATS = ['float32', 'float64'] as const;
const UNARY: { [K in UnaryOp]: { exact: boolean; domain?: 'positive' } } = {
  neg: { exact: true },
  abs: { exact: true },
  sign: { exact: true },
  relu: { exact: true },
  sqrt: { exact: true, domain: 'positive' },
  exp: { exact: false },
  log: { exact: false, domain: 'positive' },
  log1p: { exact: false, domain: 'positive' },
  sigmoid: { exact: false },
  tanh: { exact: false },
  erf: { exact: false },
  sin: { exact: false },
  cos: { exact: false },
};
/** pow is the one transcendental binary op; the others are one IEEE operation (or a comparison) each. */
const BINARY: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'reluBackward'];
/** Inputs where exp, sigmoid and tanh overflow, underflow (exp(-87.5) is a float32 subnormal) or switch methods. */
const EDGES = [-200, -104.5, -103.9, -87.5, -20, -0.0100001, -0.0099999, 1e-30, 9, 15, 88.72, 88.73, 89.5, 1e4];

/** Strides reading a tensor of `own` shape broadcast to `shape` (0 along broadcast axes). */
function bstrides(own: readonly number[], shape: readonly number[]): number[] {
  // a lower-rank operand is aligned to the right, as broadcasting does ([257] against [7, 257])
  const o = [...new Array<number>(shape.length - own.length).fill(1), ...own];
  const c = contiguousStrides(o);
  return shape.map((d, i) => (o[i] === 1 && d !== 1 ? 0 : c[i]!));
}

/** Integer-valued versions of random values (for int32 storages): specials become 3. */
const toInt = (v: Float64Array, scale = 10): Float64Array => v.map((x) => (Number.isFinite(x) ? Math.round(x * scale) : 3));

/** The sum bound 2 * terms * eps * sum |term| at each output, from the reference run on |inputs|. */
function sumBound(dtype: DType, terms: number, absRun: () => Storage): (i: number) => number {
  const s = absRun().data;
  return (i) => 2 * terms * eps(dtype) * s[i]! + 1e-300;
}

function unaryCase(c: Contract, op: UnaryOp, dtype: 'float32' | 'float64', n: number, edges: boolean): void {
  const raw = c.values(n);
  if (edges) raw.set(EDGES.slice(0, n));
  // inputs in the op's domain, scaled to [-3, 3); specials stay as they are (log(-0) = -Inf)
  const v = raw.map((x) => (!Number.isFinite(x) || x === 0 || Math.abs(x) > 3 ? x : UNARY[op].domain ? Math.abs(x) * 3 : x * 3));
  const [xr, xt] = c.pair(dtype, v),
    [or, ot] = c.out(dtype, n);
  c.ref.unary(op, xr, or);
  c.backend.unary(op, xt, ot);
  const ys = or.data;
  c.check(ot, or, `unary ${op} ${dtype} n=${n}`, UNARY[op].exact ? {} : { tol: (i) => c.ulps * ulp(ys[i]!, dtype) });
}

function binaryCase(c: Contract, op: BinaryOp, shape: number[], aShape: number[], bShape: number[], dtype: DType): void {
  const conv = (v: Float64Array) => (dtype === 'int32' ? toInt(v) : v);
  const [ar, at] = c.pair(dtype, conv(c.values(shapeSize(aShape)))),
    [br, bt] = c.pair(dtype, conv(c.values(shapeSize(bShape))));
  const n = shapeSize(shape),
    [or, ot] = c.out(dtype, n);
  const as = bstrides(aShape, shape),
    bs = bstrides(bShape, shape);
  c.ref.binary(op, ar, br, or, shape, as, bs);
  c.backend.binary(op, at, bt, ot, shape, as, bs);
  const ys = or.data;
  c.check(
    ot,
    or,
    `binary ${op} ${dtype} [${aShape}] with [${bShape}] -> [${shape}]`,
    op === 'pow' && dtype !== 'int32' ? { tol: (i) => c.ulps * ulp(ys[i]!, dtype) } : {},
  );
}

function reduceCase(c: Contract, op: 'sum' | 'max' | 'min', dtype: 'float32' | 'float64', shape: number[], axes: number[]): void {
  const v = c.values(shapeSize(shape));
  const [xr, xt] = c.pair(dtype, v),
    [ar] = c.pair(dtype, v.map(Math.abs));
  const n = shapeSize(shape.filter((_, i) => !axes.includes(i))),
    terms = shapeSize(axes.map((a) => shape[a]!));
  const [or, ot] = c.out(dtype, n),
    [absr] = c.out(dtype, n);
  c.ref.reduce(op, xr, or, shape, axes);
  c.backend.reduce(op, xt, ot, shape, axes);
  const tol = op === 'sum' ? sumBound(dtype, terms, () => (c.ref.reduce('sum', ar, absr, shape, axes), absr)) : undefined;
  c.check(ot, or, `reduce ${op} ${dtype} [${shape}] over [${axes}]`, { tol, terms });
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

function matmulCase(c: Contract, l: MatmulLayout, aSize: number, bSize: number, dtype: 'float32' | 'float64', rate: number): void {
  const av = c.values(aSize, rate),
    bv = c.values(bSize, rate);
  const [ar, at] = c.pair(dtype, av),
    [br, bt] = c.pair(dtype, bv);
  const [aa] = c.pair(dtype, av.map(Math.abs)),
    [ba] = c.pair(dtype, bv.map(Math.abs));
  const size = l.batch * l.m * l.n,
    [or, ot] = c.out(dtype, size),
    [absr] = c.out(dtype, size);
  c.ref.matmul(ar, br, or, l);
  c.backend.matmul(at, bt, ot, l);
  const tol = sumBound(dtype, Math.max(1, l.k), () => (c.ref.matmul(aa, ba, absr, l), absr));
  c.check(ot, or, `matmul ${dtype} batch=${l.batch} m=${l.m} n=${l.n} k=${l.k} tA=${l.transA} tB=${l.transB}`, { tol, terms: l.k });
}

/** [outer, n, inner, m] layouts of the axis kernels: last axis (inner 1), middle axes, repeats. */
const AXIS_LAYOUTS = [
  [1, 7, 1, 3],
  [3, 5, 4, 6],
  [2, 33, 7, 1],
  [1, 10, 1, 64],
  [5, 9, 1, 4],
  [1, 257, 1, 33],
  [2, 7, 33, 257],
] as const;

/** gather / indexSelect (moves) and scatterAdd / indexAdd (sums into out), on [outer, n, inner, m] layouts. */
export function axisCase(
  c: Contract,
  kernel: 'gather' | 'indexSelect' | 'scatterAdd' | 'scatterAddZeroed' | 'indexAdd',
  layouts: readonly (readonly [number, number, number, number])[] = AXIS_LAYOUTS,
): void {
  for (const [outer, n, inner, m] of layouts) {
    const l = { outer, n, inner, m },
      perIdx = kernel === 'indexSelect' || kernel === 'indexAdd';
    const [ir, it] = c.pair('int32', c.ints(perIdx ? m : outer * m * inner, n));
    const label = `${kernel} [${outer}, ${n}, ${inner}] m=${m}`;
    const big = outer * n * inner,
      small = outer * m * inner;
    if (kernel === 'gather' || kernel === 'indexSelect') {
      for (const dtype of ['float32', 'float64', 'int32'] as const) {
        const v = c.values(big);
        const [xr, xt] = c.pair(dtype, dtype === 'int32' ? toInt(v, 100) : v),
          [or, ot] = c.out(dtype, small);
        c.ref[kernel](xr, ir, or, l);
        c.backend[kernel](xt, it, ot, l);
        c.check(ot, or, `${label} ${dtype}`);
      }
      continue;
    }
    for (const dtype of FLOATS) {
      const sv = c.values(small),
        ov = c.values(big);
      const [sr, st] = c.pair(dtype, sv),
        [or, ot] = c.pair(dtype, ov);
      const [sa] = c.pair(dtype, sv.map(Math.abs)),
        [oa] = c.pair(dtype, kernel === 'scatterAddZeroed' ? new Float64Array(big) : ov.map(Math.abs));
      const refKernel = kernel === 'indexAdd' ? 'indexAdd' : 'scatterAdd';
      if (kernel === 'scatterAddZeroed') {
        c.ref.fill(or, 0); // out starts as zeros whatever it held (junk here)
        c.backend.scatterAddZeroed!(st, it, ot, l);
      } else c.backend[kernel](st, it, ot, l);
      c.ref[refKernel](sr, ir, or, l);
      const terms = m + 1; // at most m source entries land on one output, plus what it held
      c.check(ot, or, `${label} ${dtype}`, { tol: sumBound(dtype, terms, () => (c.ref[refKernel](sa, ir, oa, l), oa)), terms });
    }
  }
}

function window(n: number, ch: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number): WindowLayout {
  const outH = Math.floor((h - dh * (kh - 1) - 1) / sh) + 1,
    outW = Math.floor((w - dw * (kw - 1) - 1) / sw) + 1;
  return { n, c: ch, h, w, kh, kw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH, outW };
}

/** 3x3 convolutions, strided and dilated windows, 2x2 pooling with odd edges, 1x1 images, one large batch. */
const WINDOWS = [
  window(2, 3, 9, 9, 3, 3, 1, 1, 1, 1),
  window(1, 1, 3, 3, 3, 3, 1, 1, 1, 1),
  window(1, 2, 33, 33, 3, 3, 1, 1, 1, 1),
  window(2, 2, 11, 13, 3, 2, 2, 3, 1, 2),
  window(2, 3, 26, 26, 2, 2, 2, 2, 1, 1),
  window(2, 2, 11, 11, 2, 2, 2, 2, 1, 1),
  window(1, 1, 9, 30, 2, 3, 1, 1, 2, 2),
  window(1, 7, 1, 1, 1, 1, 1, 1, 1, 1),
  window(1, 1, 7, 257, 2, 2, 2, 2, 1, 1),
  window(4, 16, 26, 26, 3, 3, 1, 1, 1, 1), // large enough to be split over threads (the native kernels: 2^16 elements)
];

/** Each case, keyed by kernel name: a method added to Backend without one here does not compile. */
export const CONTRACT: { [K in KernelName]: ContractCase } = {
  alloc(c) {
    // a fresh storage of the requested dtype and size, of this backend, reading as zeros
    for (const dtype of ['float32', 'float64', 'int32'] as const)
      for (const n of [0, ...SIZES]) {
        const junk = c.backend.alloc(dtype, n); // a block to reuse, left dirty
        junk.data.fill(9);
        junk.release();
        const s = c.backend.alloc(dtype, n);
        assert.deepEqual([s.dtype, s.size, s.backend, s.data.length], [dtype, n, c.backend.name, n], `alloc ${dtype} ${n}`);
        const [like] = c.out(dtype, 0);
        assert.equal(s.data.constructor, like.data.constructor, `alloc ${dtype}: element type`);
        assert.ok(
          s.data.every((v) => v === 0),
          `alloc ${dtype} ${n}: reads as zeros`,
        );
        s.release();
      }
  },
  flush(c) {
    // submits the queued kernels without waiting: what is read afterwards is what every kernel issued before it wrote
    for (const n of SIZES) {
      const [r, t] = c.pair('float32', new Float64Array(n).fill(9));
      c.ref.fill(r, 2.5);
      c.backend.fill(t, 2.5);
      c.backend.flush!();
      c.backend.flush!(); // twice: nothing queued is a no-op
      c.check(t, r, `fill then flush, n=${n}`);
    }
  },
  fill(c) {
    const values = [0, -0, 2.5, -7, 1, ...(c.ieee ? [NaN, Infinity, -Infinity] : []), ...(c.keepsSubnormals ? [1e-40] : [])];
    for (const dtype of ['float32', 'float64', 'int32'] as const)
      for (const n of SIZES)
        for (const v of values) {
          const [r, t] = c.pair(dtype, new Float64Array(n).fill(9)); // over junk
          c.ref.fill(r, v);
          c.backend.fill(t, v);
          c.check(t, r, `fill ${dtype} n=${n} with ${Object.is(v, -0) ? '-0' : v}`);
        }
  },
  cast(c) {
    // float to int32 truncates toward zero; only finite values in int32's range (C leaves the rest undefined)
    const pairs: [DType, DType][] = [
      ['float32', 'int32'],
      ['float64', 'int32'],
      ['float32', 'float64'],
      ['float64', 'float32'],
      ['int32', 'float32'],
      ['int32', 'float64'],
      ['float32', 'float32'],
    ];
    for (const [from, to] of pairs)
      for (const n of SIZES) {
        const v = c.values(n).map((x) => (to === 'int32' ? (Number.isFinite(x) ? x * 1000 : 5) : from === 'int32' ? Math.round(x * 1e6) || 0 : x * 1e3));
        const [xr, xt] = c.pair(from, v),
          [or, ot] = c.out(to, n);
        c.ref.cast(xr, or);
        c.backend.cast(xt, ot);
        c.check(ot, or, `cast ${from} -> ${to} n=${n}`);
      }
  },
  unary(c) {
    for (const op of Object.keys(UNARY) as UnaryOp[]) {
      for (const n of SIZES) unaryCase(c, op, 'float32', n, n === 257);
      unaryCase(c, op, 'float64', 33, false);
    }
  },
  binary(c) {
    for (const op of BINARY) {
      for (const n of SIZES) binaryCase(c, op, [n], [n], [n], 'float32');
      // scalar either side, row bias, column vector, 3-D outer blocks, rank 0
      const cases: [number[], number[], number[]][] = [
        [
          [33, 7],
          [33, 7],
          [1, 1],
        ],
        [[257], [1], [257]],
        [[7, 257], [7, 257], [257]],
        [
          [7, 33],
          [1, 33],
          [7, 33],
        ],
        [
          [7, 33],
          [7, 33],
          [7, 1],
        ],
        [
          [3, 5, 9],
          [3, 1, 9],
          [1, 5, 9],
        ],
        [
          [3, 5, 9],
          [3, 5, 1],
          [1, 1, 9],
        ],
        [[], [], []],
      ];
      for (const [s, a, b] of cases) binaryCase(c, op, s, a, b, 'float32');
      binaryCase(c, op, [5, 7], [5, 7], [7], 'float64');
      if (op !== 'div' && op !== 'pow') binaryCase(c, op, [5, 7], [5, 7], [5, 1], 'int32'); // integer division and powers are not defined
    }
  },
  where(c) {
    const cases: [number[], number[], number[], number[]][] = [
      ...SIZES.map((n): [number[], number[], number[], number[]] => [[n], [n], [n], [n]]),
      [[7, 33], [7, 1], [1, 33], []],
      [
        [3, 5, 9],
        [3, 5, 9],
        [3, 1, 9],
        [1, 5, 1],
      ],
    ];
    for (const dtype of ['float32', 'float64', 'int32'] as const)
      for (const [shape, cs, as, bs] of cases) {
        // the condition: NaN (where declared) and -0 among 0s and 1s: anything but 0 picks a
        const cv = c.values(shapeSize(cs)).map((x) => (Number.isNaN(x) || Object.is(x, -0) ? x : x > 0 ? 1 : 0));
        const conv = (v: Float64Array) => (dtype === 'int32' ? toInt(v) : v);
        const [cr, ct] = c.pair(dtype, conv(cv)),
          [ar, at] = c.pair(dtype, conv(c.values(shapeSize(as)))),
          [br, bt] = c.pair(dtype, conv(c.values(shapeSize(bs))));
        const [or, ot] = c.out(dtype, shapeSize(shape));
        const strides = [bstrides(cs, shape), bstrides(as, shape), bstrides(bs, shape)] as const;
        c.ref.where(cr, ar, br, or, shape, ...strides);
        c.backend.where(ct, at, bt, ot, shape, ...strides);
        c.check(ot, or, `where ${dtype} [${cs}] ? [${as}] : [${bs}] -> [${shape}]`);
      }
  },
  reduce(c) {
    for (const op of ['sum', 'max', 'min'] as const) {
      for (const n of SIZES) {
        reduceCase(c, op, 'float32', [3, n], [1]);
        reduceCase(c, op, 'float32', [n, 5], [0]);
      }
      const cases: [number[], number[]][] = [
        [[33, 257], [0]],
        [[4, 7, 9], [1]],
        [
          [4, 7, 9],
          [0, 2],
        ],
        [
          [4, 7, 9],
          [0, 1, 2],
        ],
        [
          [2, 3, 4, 5, 6],
          [1, 3],
        ],
        [
          [5, 3, 7, 9],
          [0, 2, 3],
        ],
        [
          [7, 2, 1],
          [0, 2],
        ],
        [
          [1, 1],
          [0, 1],
        ],
      ];
      for (const [shape, axes] of cases) reduceCase(c, op, 'float32', shape, axes);
      reduceCase(c, op, 'float64', [7, 33], [1]);
    }
  },
  argReduce(c) {
    for (const op of ['argmax', 'argmin'] as const)
      for (const n of SIZES)
        for (const [outer, inner] of [
          [1, 1],
          [3, 1],
          [2, 5],
        ] as const) {
          for (const ties of [false, true]) {
            // ties: values rounded to {-1, 0, 1} (many equal extremes: the first one wins)
            const v = c.values(outer * n * inner).map((x) => (ties && Number.isFinite(x) ? Math.round(x) : x));
            const [xr, xt] = c.pair('float32', v),
              [or, ot] = c.out('int32', outer * inner);
            c.ref.argReduce(op, xr, or, outer, n, inner);
            c.backend.argReduce(op, xt, ot, outer, n, inner);
            c.check(ot, or, `${op} [${outer}, ${n}, ${inner}]${ties ? ' with ties' : ''}`);
          }
        }
  },
  matmul(c) {
    for (const m of SIZES)
      for (const n of SIZES)
        for (const k of SIZES) {
          if (m * n * k > 257 * 33 * 7) continue; // keep the reference's time down
          // few specials: with 10% of them nearly every output of a long product would be NaN
          for (const tA of [false, true]) for (const tB of [false, true]) matmulCase(c, layout(m, n, k, tA, tB), m * k, k * n, 'float32', 0.5 / k);
        }
    matmulCase(c, layout(5, 9, 6, false, false, 3), 3 * 30, 3 * 54, 'float32', 0.05);
    matmulCase(c, layout(5, 9, 6, true, true, 4, 30, 0), 4 * 30, 54, 'float32', 0.05); // every batch reads the same B
    matmulCase(c, layout(7, 33, 0, false, false), 0, 0, 'float32', 0); // k = 0: zeros
    matmulCase(c, layout(7, 33, 9, false, true), 63, 297, 'float64', 0.05);
    if (c.ieee) {
      // [[0, 0], [1, 0]] @ [[Inf, 1], [NaN, 2]] = [[0 Inf + 0 NaN, 0], [Inf + 0 NaN, 1]] = [[NaN, 0], [NaN, 1]]: zeros are never skipped
      const [ar, at] = c.pair('float32', [0, 0, 1, 0]),
        [br, bt] = c.pair('float32', [Infinity, 1, NaN, 2]),
        [or, ot] = c.out('float32', 4);
      c.ref.matmul(ar, br, or, layout(2, 2, 2, false, false));
      c.backend.matmul(at, bt, ot, layout(2, 2, 2, false, false));
      c.check(ot, or, 'matmul 0 * Inf');
      assert.ok(Number.isNaN(or.data[0]!) && Number.isNaN(or.data[2]!), 'the reference keeps 0 * Inf = NaN');
    }
  },
  copy(c) {
    const shape = [7, 33, 5],
      size = 7 * 33 * 5,
      cs = contiguousStrides(shape);
    // [src strides, src offset, dst strides, dst offset, dst size]: permute, expand, transposed write, plain, a slice into a bigger buffer
    const cases: [readonly number[], number[], number, number[], number, number][] = [
      [shape, [33 * 5, 1, 33], 0, cs, 0, size],
      [shape, [0, 5, 1], 0, cs, 0, size],
      [shape, cs, 0, [1, 7, 7 * 33], 0, size],
      [shape, cs, 0, cs, 0, size],
      [[3, 16, 1], [33 * 5, 10, 1], 2 * 33 * 5 + 9, [16, 1, 1], 10, 100],
      ...SIZES.map((n): [number[], number[], number, number[], number, number] => [[n], [1], size - n, [2], 1, 2 * n + 1]),
    ];
    // large enough to be split over threads (the native copy: 2^16 elements): a permute of rows of
    // 11, and im2col's six dimensions (3x3 windows of a [2, 3, 26, 26] image, as [3, 3, 3, 2, 24, 24])
    cases.push(
      [[130, 11, 60], [60, 130 * 60, 1], 0, contiguousStrides([130, 11, 60]), 0, 130 * 11 * 60],
      [[3, 3, 3, 2, 24, 24], [26 * 26, 26, 1, 3 * 26 * 26, 26, 1], 0, contiguousStrides([3, 3, 3, 2, 24, 24]), 0, 3 * 9 * 2 * 24 * 24],
    );
    for (const dtype of ['float32', 'int32', 'float64'] as const)
      for (const [sh, ss, so, ds, dof, dsize] of cases) {
        const v = c.values(Math.max(size, so + sh.reduce((e, n, i) => e + (n - 1) * ss[i]!, 1)));
        const [sr, st] = c.pair(dtype, dtype === 'int32' ? toInt(v, 100) : v),
          [dr, dt] = c.out(dtype, dsize);
        c.ref.copy(sr, dr, sh, so, ss, dof, ds);
        c.backend.copy(st, dt, sh, so, ss, dof, ds);
        c.check(dt, dr, `copy ${dtype} [${sh}] src strides [${ss}] +${so}, dst strides [${ds}] +${dof}`);
      }
  },
  gather: (c) => axisCase(c, 'gather'),
  scatterAdd: (c) => axisCase(c, 'scatterAdd'),
  scatterAddZeroed: (c) => axisCase(c, 'scatterAddZeroed'),
  indexSelect: (c) => axisCase(c, 'indexSelect'),
  indexAdd: (c) => axisCase(c, 'indexAdd'),
  zigguratMap(c) {
    // The specification written out (Backend.zigguratMap): u as a signed 32-bit integer, layer u & 127,
    // inside the layer's rectangle when |u & ~127| < kn; std * ((u & ~127) * wn) rounded once.
    const tables = new Float64Array(256);
    for (let i = 0; i < 128; i++) {
      tables[i] = Math.floor(c.g.nextFloat64() * 2 ** 31);
      tables[128 + i] = c.g.nextFloat64() * 2 ** -31 * 3.5;
    }
    for (const n of [0, ...SIZES, 1023])
      for (const std of [1, 0.37]) {
        const [, t] = c.out('float32', n);
        const bits = new Int32Array(n).map(() => c.g.nextUint32() | 0);
        new Int32Array(t.data.buffer, t.data.byteOffset, n).set(bits);
        const rare = c.backend.zigguratMap!(t, std, tables);
        const want = new Float32Array(n),
          wantRare: number[] = [];
        const got = new Int32Array(t.data.buffer, t.data.byteOffset, n),
          gotF = t.data;
        for (let i = 0; i < n; i++) {
          const u = bits[i]!,
            hz = (u & ~127) | 0,
            iz = u & 127;
          if (Math.abs(hz) < tables[iz]!) want[i] = std * (hz * tables[128 + iz]!);
          else {
            wantRare.push(i);
            assert.equal(got[i], u, `zigguratMap n=${n}: element ${i} (rare) left as it was`);
          }
        }
        assert.deepEqual(Array.from(rare), wantRare, `zigguratMap n=${n} std=${std}: the rare indices`);
        const inner = new Set(wantRare);
        for (let i = 0; i < n; i++)
          if (!inner.has(i)) assert.ok(Object.is(gotF[i], want[i]), `zigguratMap n=${n} std=${std}: element ${i}: ${gotF[i]} vs ${want[i]}`);
      }
  },
  sgdStep(c) {
    // every variant: plain, maximize with weight decay, momentum's first and later steps, dampening, Nesterov
    const hypers = [
      { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, first: false },
      { lr: 0.03, momentum: 0, dampening: 0, weightDecay: 0.01, nesterov: false, maximize: true, first: false },
      { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, first: true },
      { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, first: false },
      { lr: 0.07, momentum: 0.8, dampening: 0.3, weightDecay: 0.02, nesterov: false, maximize: true, first: false },
      { lr: 0.01, momentum: 0.95, dampening: 0, weightDecay: 1e-4, nesterov: true, maximize: false, first: false },
      { lr: 0.01, momentum: 0.95, dampening: 0, weightDecay: 0, nesterov: true, maximize: false, first: true },
    ];
    // 3 * 2^16 + 7: split over threads where the backend splits (the native update), a ragged end
    for (const dtype of FLOATS)
      for (const n of [0, ...SIZES, 1031, 3 * 65536 + 7])
        for (const h of hypers) {
          const [pr, pt] = c.pair(dtype, c.values(n)),
            [gr, gt] = c.pair(dtype, c.values(n)),
            [br, bt] = c.pair(dtype, c.values(n));
          const [por, pot] = c.out(dtype, n),
            [bor, bot] = c.out(dtype, n);
          const withBuf = h.momentum !== 0;
          c.ref.sgdStep!(pr, gr, withBuf ? br : null, por, withBuf ? bor : null, h);
          c.backend.sgdStep!(pt, gt, withBuf ? bt : null, pot, withBuf ? bot : null, h);
          const label = `sgdStep ${dtype} n=${n} ${JSON.stringify(h)}`;
          c.check(pot, por, `${label}: parameter`);
          if (withBuf) c.check(bot, bor, `${label}: buffer`);
        }
    // in place: the parameter and the momentum buffer overwritten. Not on WebGPU, where one dispatch
    // cannot bind a buffer both read-only and read-write (its optimizer passes separate outputs).
    if (c.backend.name !== 'webgpu')
      for (const n of [1031, 3 * 65536 + 7])
        for (const h of hypers) {
          const [pr, pt] = c.pair('float32', c.values(n)),
            [gr, gt] = c.pair('float32', c.values(n)),
            [br, bt] = c.pair('float32', c.values(n));
          const withBuf = h.momentum !== 0;
          c.ref.sgdStep!(pr, gr, withBuf ? br : null, pr, withBuf ? br : null, h);
          c.backend.sgdStep!(pt, gt, withBuf ? bt : null, pt, withBuf ? bt : null, h);
          const label = `sgdStep in place n=${n} ${JSON.stringify(h)}`;
          c.check(pt, pr, `${label}: parameter`);
          if (withBuf) c.check(bt, br, `${label}: buffer`);
        }
  },
  crossEntropyRows(c) {
    // the same steps as the reference, each rounded alike: the same values (NaN rows as NaN)
    for (const dtype of FLOATS)
      for (const [rows, cols] of [
        [1, 1],
        [3, 10],
        [17, 7],
        [64, 33],
        [5, 1000],
      ] as const) {
        const [xr, xt] = c.pair(
          dtype,
          c.values(rows * cols).map((v) => v * 30),
        );
        const [tr, tt] = c.pair('int32', c.ints(rows, cols));
        const [or, ot] = c.out(dtype, rows);
        c.ref.crossEntropyRows!(xr, tr, or, rows, cols);
        c.backend.crossEntropyRows!(xt, tt, ot, rows, cols);
        // exact, unless the backend declares its exp and log within c.ulps units: then the loss
        // L - s[t] may be off by that many units of L (at most |loss| + log(cols) + 1) and its own rounding
        const y = or.data;
        const tol = c.ulps > 1 ? { tol: (i: number) => c.ulps * ulp(Math.abs(y[i]!) + Math.log(cols) + 1, dtype) + ulp(y[i]!, dtype) } : {};
        c.check(ot, or, `crossEntropyRows ${dtype} [${rows}, ${cols}]`, tol);
      }
  },
  crossEntropyRowsGrad(c) {
    for (const dtype of FLOATS)
      for (const [rows, cols] of [
        [1, 1],
        [3, 10],
        [17, 7],
        [64, 33],
      ] as const) {
        const [xr, xt] = c.pair(
          dtype,
          c.values(rows * cols).map((v) => v * 30),
        );
        const [tr, tt] = c.pair('int32', c.ints(rows, cols));
        const [gr, gt] = c.pair(dtype, c.values(rows));
        const [or, ot] = c.out(dtype, rows * cols);
        c.ref.crossEntropyRowsGrad!(xr, tr, gr, or, rows, cols);
        c.backend.crossEntropyRowsGrad!(xt, tt, gt, ot, rows, cols);
        // exact, unless exp is declared within c.ulps units: then softmax p in [0, 1] may be off by
        // c.ulps units of 1 (twice, through the row sum too) before p - [j == t] is scaled by g
        const y = or.data,
          g = gr.data;
        const tol = c.ulps > 1 ? { tol: (i: number) => 2 * c.ulps * ulp(1, dtype) * Math.abs(g[Math.floor(i / cols)]!) + ulp(y[i]!, dtype) } : {};
        c.check(ot, or, `crossEntropyRowsGrad ${dtype} [${rows}, ${cols}]`, tol);
      }
  },
  sumSquares(c) {
    // squares rounded to the dtype, added in float64 in any fixed order: within n float64 roundings of the sum
    for (const dtype of FLOATS)
      for (const n of [0, ...SIZES, 16384, 16385, 3 * 16384 + 7, 9 * 16384 + 5]) {
        const [r, t] = c.pair(dtype, c.values(n));
        const want = c.ref.sumSquares!(r),
          got = c.backend.sumSquares!(t);
        const label = `sumSquares ${dtype} n=${n} [${c.backend.name}]: ${got} vs reference ${want}`;
        if (!Number.isFinite(want)) assert.ok(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), label);
        else assert.ok(Math.abs(got - want) <= n * 2 ** -52 * want, label);
        assert.equal(c.backend.sumSquares!(t), got, `${label}: the same on a second call`);
      }
  },
  col2im(c) {
    for (const l of WINDOWS)
      for (const dtype of FLOATS) {
        const nCols = l.c * l.kh * l.kw * l.n * l.outH * l.outW,
          nImg = l.n * l.c * l.h * l.w;
        const v = c.values(nCols);
        const [cr, ct] = c.pair(dtype, v),
          [ca] = c.pair(dtype, v.map(Math.abs));
        const [or, ot] = c.pair(dtype, new Float64Array(nImg).fill(7)),
          [oa] = c.out(dtype, nImg); // ot must be cleared by the kernel
        col2imReference(cr, or, l);
        c.backend.col2im!(ct, ot, l);
        const terms = l.kh * l.kw;
        c.check(ot, or, `col2im ${dtype} ${JSON.stringify(l)}`, { tol: sumBound(dtype, terms, () => (col2imReference(ca, oa, l), oa)), terms });
      }
  },
  windowArgmax(c) {
    for (const l of WINDOWS)
      for (const dtype of FLOATS)
        for (const kind of ['random', 'ties'] as const) {
          const nImg = l.n * l.c * l.h * l.w,
            nOut = l.n * l.c * l.outH * l.outW;
          // ties: values from {-1, 0, 1} (many equal maxima; the first one wins; a NaN wins, the last one)
          const v = c.values(nImg, kind === 'ties' ? 0.3 : 0.1).map((x) => (kind === 'ties' && Number.isFinite(x) ? Math.round(x) : x));
          const [xr, xt] = c.pair(dtype, v),
            [or, ot] = c.out('int32', nOut);
          windowArgmaxReference(xr, or, l);
          c.backend.windowArgmax!(xt, ot, l);
          c.check(ot, or, `windowArgmax ${dtype} ${kind} ${JSON.stringify(l)}`);
        }
  },
};
