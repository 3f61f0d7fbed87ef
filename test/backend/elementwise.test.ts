/**
 * The wasm backend's elementwise, reduction and copy kernels against the reference backend. These
 * kernels perform the same IEEE operations as the reference, so results must be identical
 * (+0/-0 and NaN included), except sums, whose float64 additions run in another order. fill,
 * copy and float64/int32 operands are covered by the backend contract (contract-cases.ts) alone;
 * these tests hold the wasm backend to tighter bounds than the contract's (exact pow, sums to a
 * rounding) on more lengths and layouts.
 */
import '../helpers.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BinaryOp, ReduceOp, UnaryOp } from '../../src/backend/backend.js';
import { contiguousStrides, shapeSize } from '../../src/core/shape.js';
import { Generator } from '../../src/index.js';
import { assertSame, assertUlp, jsBackend, pair, randomValues, release, wasmBackend } from './kernels.js';

const g = new Generator(11);
const LENGTHS = [1, 3, 7, 33, 257, 1023];
const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'reluBackward'];
const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'log1p', 'sqrt', 'abs', 'sign', 'relu', 'sigmoid', 'tanh', 'erf', 'sin', 'cos'];

/** Strides reading a tensor of `own` shape broadcast to `shape` (0 along broadcast axes). */
function bstrides(own: number[], shape: number[]): number[] {
  const c = contiguousStrides(own);
  return shape.map((d, i) => (own[i] === 1 && d !== 1 ? 0 : c[i]!));
}

function binaryCase(op: BinaryOp, shape: number[], aShape: number[], bShape: number[], dtype: 'float32' | 'float64' | 'int32' = 'float32'): void {
  const conv = (v: Float64Array) => (dtype === 'int32' ? v.map((x) => (Number.isFinite(x) ? Math.round(x * 10) : 3)) : v);
  const [aj, aw] = pair(dtype, conv(randomValues(g, shapeSize(aShape), true)));
  const [bj, bw] = pair(dtype, conv(randomValues(g, shapeSize(bShape), true)));
  const n = shapeSize(shape);
  const oj = jsBackend.alloc(dtype, n),
    ow = wasmBackend.alloc(dtype, n);
  const as = bstrides(aShape, shape),
    bs = bstrides(bShape, shape);
  jsBackend.binary(op, aj, bj, oj, shape, as, bs);
  wasmBackend.binary(op, aw, bw, ow, shape, as, bs);
  assertSame(ow.data, oj.data, `${op} ${dtype} [${aShape}] with [${bShape}] -> [${shape}]`);
  release(aj, aw, bj, bw, oj, ow);
}

describe('wasm elementwise kernels vs reference', () => {
  it('binary ops, same shape, every length (with NaN, +-0, +-Infinity among the values)', () => {
    for (const op of BINARY) for (const n of LENGTHS) binaryCase(op, [n], [n], [n]);
  });

  it('binary ops with broadcasting: scalar either side, row bias, column vector, 3-D outer blocks', () => {
    for (const op of BINARY) {
      binaryCase(op, [33, 7], [33, 7], [1, 1]);
      binaryCase(op, [257], [1], [257]);
      binaryCase(op, [33, 257], [33, 257], [257]);
      binaryCase(op, [7, 33], [1, 33], [7, 33]);
      binaryCase(op, [7, 33], [7, 33], [7, 1]);
      binaryCase(op, [3, 5, 9], [3, 1, 9], [1, 5, 9]);
      binaryCase(op, [3, 5, 9], [3, 5, 1], [1, 1, 9]);
      binaryCase(op, [], [], []);
    }
  });

  it('unary ops on every length', () => {
    for (const op of UNARY)
      for (const n of LENGTHS) {
        const [xj, xw] = pair(
          'float32',
          randomValues(g, n, true).map((v) => (op === 'log' || op === 'sqrt' ? Math.abs(v) * 3 : v * 3)),
        );
        const oj = jsBackend.alloc('float32', n),
          ow = wasmBackend.alloc('float32', n);
        jsBackend.unary(op, xj, oj);
        wasmBackend.unary(op, xw, ow);
        // exp, sigmoid and tanh are evaluated in float64 to ~1e-14 and rounded once, as the
        // reference; they may differ from it by one ulp when the value is that close to a tie
        if (op === 'exp' || op === 'sigmoid' || op === 'tanh') assertUlp(ow.data as Float32Array, oj.data as Float32Array, 1, `${op} n=${n}`);
        else assertSame(ow.data, oj.data, `${op} n=${n}`);
        release(xj, xw, oj, ow);
      }
  });

  it('exp, sigmoid, tanh across their whole float32 range (overflow, underflow, the tanh series switch at 0.01)', () => {
    const xs = [
      -200,
      -104.5,
      -103.9,
      -87.5,
      -20,
      -1,
      -0.0100001,
      -0.0099999,
      -1e-8,
      -0,
      0,
      1e-30,
      0.5,
      9,
      15,
      88.72,
      88.73,
      89.5,
      1e4,
      Infinity,
      -Infinity,
      NaN,
    ];
    const v = new Float64Array(4099);
    for (let i = 0; i < v.length; i++) v[i] = i < xs.length ? xs[i]! : (g.nextFloat64() - 0.5) * 2 ** (g.nextFloat64() * 16 - 8);
    for (const op of ['exp', 'sigmoid', 'tanh'] as const) {
      const [xj, xw] = pair('float32', v);
      const oj = jsBackend.alloc('float32', v.length),
        ow = wasmBackend.alloc('float32', v.length);
      jsBackend.unary(op, xj, oj);
      wasmBackend.unary(op, xw, ow);
      assertUlp(ow.data as Float32Array, oj.data as Float32Array, 1, op);
      // exp(88.73) = 3.43e38 > FLT_MAX = 3.40e38 (ln FLT_MAX = 88.7228) overflows; exp(-104.5) < 2^-150 underflows to 0
      if (op === 'exp') assert.deepEqual([ow.data[16], ow.data[1]], [Infinity, 0]);
      release(xj, xw, oj, ow);
    }
  });
});

function reduceCase(op: ReduceOp, shape: number[], axes: number[], special: boolean): void {
  const [xj, xw] = pair('float32', randomValues(g, shapeSize(shape), special));
  const n = shapeSize(shape.filter((_, i) => !axes.includes(i)));
  const oj = jsBackend.alloc('float32', n),
    ow = wasmBackend.alloc('float32', n);
  jsBackend.reduce(op, xj, oj, shape, axes);
  wasmBackend.reduce(op, xw, ow, shape, axes);
  const label = `${op} [${shape}] over [${axes}]`;
  if (op !== 'sum') assertSame(ow.data, oj.data, label);
  else {
    // float64 partial sums in another order: at most a rounding of the float32 result apart
    for (let i = 0; i < n; i++) {
      const x = ow.data[i]!,
        y = oj.data[i]!;
      if (Number.isNaN(y)) assert.ok(Number.isNaN(x), label);
      else assert.ok(x === y || Math.abs(x - y) <= 2 ** -23 * Math.abs(y), `${label}: element ${i}: ${x} vs ${y}`);
    }
  }
  release(xj, xw, oj, ow);
}

describe('wasm reductions vs reference', () => {
  it('sum, max, min over the last axis, leading axes, middle axes and everything, with and without NaN, +-Infinity, +-0 and subnormals', () => {
    // without special values (sums checked to a rounding), then with them (NaN and infinities must
    // come out where the reference has them, whatever the order of the additions)
    for (const special of [false, true])
      for (const op of ['sum', 'max', 'min'] as const) {
        for (const n of LENGTHS) reduceCase(op, [3, n], [1], special);
        for (const n of LENGTHS) reduceCase(op, [n, 5], [0], special);
        reduceCase(op, [33, 257], [0], special);
        reduceCase(op, [4, 7, 9], [1], special);
        reduceCase(op, [4, 7, 9, 2], [1, 2], special);
        reduceCase(op, [4, 7, 9], [0, 1, 2], special);
        // axes apart: sums keeping a middle run of axes have their own kernel; the rest gather the
        // kept axes first by a copy, then reduce rows
        reduceCase(op, [4, 7, 9], [0, 2], special);
        reduceCase(op, [5, 3, 7, 9], [0, 2, 3], special); // batch norm's statistics over N, H, W
        reduceCase(op, [2, 3, 4, 5, 6], [1, 3], special);
        reduceCase(op, [3, 4, 5, 6], [0, 3], special); // two kept axes in the middle
        reduceCase(op, [7, 2, 1], [0, 2], special);
        reduceCase(op, [64, 9, 33], [0, 2], special); // large enough to run on the threads
        reduceCase(op, [33, 7], [0], special);
        reduceCase(op, [7, 33], [1], special);
        reduceCase(op, [1, 1], [0, 1], special);
      }
  });
});
