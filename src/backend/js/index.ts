/**
 * The reference backend: plain TypeScript loops, written to be read. Every other backend is tested
 * against these kernels. Sums accumulate in float64 before the result is stored.
 */
import type { DType, TypedArray } from '../../core/dtype.js';
import { newTypedArray } from '../../core/dtype.js';
import { contiguousStrides, shapeSize } from '../../core/shape.js';
import type { Storage } from '../../core/storage.js';
import { noteAlloc, noteFree } from '../../core/storage.js';
import type { ArgReduceOp, AxisLayout, Backend, BinaryOp, MatmulLayout, ReduceOp, UnaryOp } from '../backend.js';
import { erf, pow, sigmoid } from './math.js';
import { sgdStepReference, sumSquaresReference } from './optim.js';
import { crossEntropyRowsGradReference, crossEntropyRowsReference } from './loss.js';

class JsStorage implements Storage {
  readonly backend = 'js';
  refs = 0;
  readonly data: TypedArray;
  constructor(
    readonly dtype: DType,
    readonly size: number,
  ) {
    this.data = newTypedArray(dtype, size);
    noteAlloc(dtype, size);
  }
  release(): void {
    noteFree(this.dtype, this.size);
  }
}

const UNARY: { [K in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  sqrt: Math.sqrt,
  abs: Math.abs,
  // +0 for either zero (as PyTorch and NumPy); NaN stays NaN (as NumPy: PyTorch's sign(NaN) = 0
  // is its bug pytorch/pytorch#41245, and would hide a NaN)
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x),
  // PyTorch's clamp_min(x, 0): NaN stays NaN (a NaN must reach the divergence guard) and -0 stays -0
  relu: (x) => (x < 0 ? 0 : x),
  sigmoid,
  tanh: Math.tanh,
  erf,
  sin: Math.sin,
  cos: Math.cos,
};

const BINARY: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow,
  // NaN propagates, as in PyTorch's maximum/minimum.
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  // PyTorch's threshold_backward: exactly 0 where x <= 0 (whatever g holds), g elsewhere, NaN x included
  reluBackward: (a, b) => (b <= 0 ? 0 : a),
};

/**
 * Visit every position of `shape` in row-major order, calling fn with the running offsets of up to
 * three strided operands. The last dimension is the inner loop.
 */
function forEachStrided(shape: readonly number[], strides: readonly (readonly number[])[], fn: (o: number, offs: number[]) => void): void {
  const rank = shape.length;
  const size = shapeSize(shape);
  if (size === 0) return;
  const nOps = strides.length;
  const offs = new Array<number>(nOps).fill(0);
  if (rank === 0) {
    fn(0, offs);
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const inner = shape[rank - 1]!;
  const innerStrides = strides.map((s) => s[rank - 1]!);
  const rowOffs = new Array<number>(nOps).fill(0);
  for (let o = 0; o < size; o += inner) {
    for (let q = 0; q < nOps; q++) offs[q] = rowOffs[q]!;
    for (let j = 0; j < inner; j++) {
      fn(o + j, offs);
      for (let q = 0; q < nOps; q++) offs[q]! += innerStrides[q]!;
    }
    // advance the odometer over the outer dimensions
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      for (let q = 0; q < nOps; q++) rowOffs[q]! += strides[q]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let q = 0; q < nOps; q++) rowOffs[q]! -= strides[q]![d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  const c = contiguousStrides(shape);
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && c[i] !== strides[i]) return false;
  return true;
}

function isScalarRead(strides: readonly number[]): boolean {
  return strides.every((s) => s === 0);
}

export const jsBackend: Backend = {
  name: 'js',
  // the definition: plain float64 JavaScript arithmetic, rounded once into the output's dtype
  guarantees: { specials: 'ieee', subnormals: 'kept' },

  alloc(dtype, size) {
    return new JsStorage(dtype, size);
  },

  fill(out, value) {
    out.data.fill(value);
  },

  cast(x, out) {
    const xd = x.data,
      od = out.data;
    if (out.dtype === 'int32') for (let i = 0; i < xd.length; i++) od[i] = Math.trunc(xd[i]!) | 0;
    else od.set(xd);
  },

  unary(op, x, out) {
    const f = UNARY[op];
    const xd = x.data,
      od = out.data;
    for (let i = 0; i < xd.length; i++) od[i] = f(xd[i]!);
  },

  binary(op, a, b, out, shape, aStrides, bStrides) {
    const ad = a.data,
      bd = b.data,
      od = out.data;
    const n = od.length;
    const aC = isContiguous(shape, aStrides),
      bC = isContiguous(shape, bStrides);
    const aS = isScalarRead(aStrides),
      bS = isScalarRead(bStrides);
    // Hot paths spelled out; everything else goes through the generic strided loop.
    if (op === 'add' && aC && bC) {
      for (let i = 0; i < n; i++) od[i] = ad[i]! + bd[i]!;
      return;
    }
    if (op === 'sub' && aC && bC) {
      for (let i = 0; i < n; i++) od[i] = ad[i]! - bd[i]!;
      return;
    }
    if (op === 'mul' && aC && bC) {
      for (let i = 0; i < n; i++) od[i] = ad[i]! * bd[i]!;
      return;
    }
    if (op === 'mul' && aC && bS) {
      const s = bd[0]!;
      for (let i = 0; i < n; i++) od[i] = ad[i]! * s;
      return;
    }
    if (op === 'add' && aC && bS) {
      const s = bd[0]!;
      for (let i = 0; i < n; i++) od[i] = ad[i]! + s;
      return;
    }
    const f = BINARY[op];
    if (aC && bC) {
      for (let i = 0; i < n; i++) od[i] = f(ad[i]!, bd[i]!);
      return;
    }
    if (aC && bS) {
      const s = bd[0]!;
      for (let i = 0; i < n; i++) od[i] = f(ad[i]!, s);
      return;
    }
    if (aS && bC) {
      const s = ad[0]!;
      for (let i = 0; i < n; i++) od[i] = f(s, bd[i]!);
      return;
    }
    forEachStrided(shape, [aStrides, bStrides], (o, offs) => {
      od[o] = f(ad[offs[0]!]!, bd[offs[1]!]!);
    });
  },

  where(cond, a, b, out, shape, cStrides, aStrides, bStrides) {
    const cd = cond.data,
      ad = a.data,
      bd = b.data,
      od = out.data;
    forEachStrided(shape, [cStrides, aStrides, bStrides], (o, offs) => {
      od[o] = cd[offs[0]!] !== 0 ? ad[offs[1]!]! : bd[offs[2]!]!;
    });
  },

  reduce(op: ReduceOp, x, out, shape, axes) {
    const xd = x.data,
      od = out.data;
    const reduced = new Set(axes);
    // Output strides seen from x's dimensions: 0 on reduced axes.
    const keptShape = shape.filter((_, i) => !reduced.has(i));
    const keptStrides = contiguousStrides(keptShape);
    const outStrides: number[] = [];
    let q = 0;
    for (let i = 0; i < shape.length; i++) outStrides.push(reduced.has(i) ? 0 : keptStrides[q++]!);
    const acc = new Float64Array(od.length);
    const xStrides = contiguousStrides(shape);
    if (op === 'sum') {
      forEachStrided(shape, [xStrides, outStrides], (_, offs) => {
        acc[offs[1]!]! += xd[offs[0]!]!;
      });
    } else {
      const isMax = op === 'max';
      acc.fill(isMax ? -Infinity : Infinity);
      forEachStrided(shape, [xStrides, outStrides], (_, offs) => {
        const v = xd[offs[0]!]!;
        const cur = acc[offs[1]!]!;
        if (v !== v || (isMax ? v > cur : v < cur)) acc[offs[1]!] = v;
        else if (cur !== cur) acc[offs[1]!] = cur; // NaN stays
      });
    }
    for (let i = 0; i < od.length; i++) od[i] = acc[i]!;
  },

  argReduce(op: ArgReduceOp, x, out, outer, n, inner) {
    const xd = x.data,
      od = out.data;
    const isMax = op === 'argmax';
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        let bv = xd[o * n * inner + i]!;
        for (let j = 1; j < n; j++) {
          const v = xd[(o * n + j) * inner + i]!;
          if (bv !== bv) break; // NaN wins, first one
          if (v !== v || (isMax ? v > bv : v < bv)) {
            bv = v;
            best = j;
          }
        }
        od[o * inner + i] = best;
      }
    }
  },

  matmul(a, b, out, l: MatmulLayout) {
    const ad = a.data,
      bd = b.data,
      od = out.data;
    const { m, n, k, transA, transB } = l;
    const row = new Float64Array(n);
    for (let bt = 0; bt < l.batch; bt++) {
      const ao = l.aOffsets[bt]!,
        bo = l.bOffsets[bt]!,
        oo = bt * m * n;
      // A(i, p) lives at ao + (transA ? p*m + i : i*k + p); B(p, j) at bo + (transB ? j*k + p : p*n + j).
      for (let i = 0; i < m; i++) {
        if (!transB) {
          // row i of the output = sum_p A(i,p) * (row p of B): the inner loop runs along B's rows.
          row.fill(0);
          for (let p = 0; p < k; p++) {
            // no skipping of zeros: 0 * Inf and 0 * NaN are NaN, and the definition keeps them
            const aip = ad[transA ? ao + p * m + i : ao + i * k + p]!;
            const bRow = bo + p * n;
            for (let j = 0; j < n; j++) row[j]! += aip * bd[bRow + j]!;
          }
          for (let j = 0; j < n; j++) od[oo + i * n + j] = row[j]!;
        } else {
          // out(i, j) = dot(row i of A, row j of B), both read along p.
          for (let j = 0; j < n; j++) {
            let s = 0;
            const bRow = bo + j * k;
            if (transA) for (let p = 0; p < k; p++) s += ad[ao + p * m + i]! * bd[bRow + p]!;
            else {
              const aRow = ao + i * k;
              for (let p = 0; p < k; p++) s += ad[aRow + p]! * bd[bRow + p]!;
            }
            od[oo + i * n + j] = s;
          }
        }
      }
    }
  },

  copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides) {
    const sd = src.data,
      dd = dst.data;
    forEachStrided(shape, [srcStrides, dstStrides], (_, offs) => {
      dd[dstOffset + offs[1]!] = sd[srcOffset + offs[0]!]!;
    });
  },

  gather(x, idx, out, { outer, n, inner, m }: AxisLayout) {
    const xd = x.data,
      id = idx.data,
      od = out.data;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < m; j++)
        for (let i = 0; i < inner; i++) {
          const q = (o * m + j) * inner + i;
          od[q] = xd[(o * n + id[q]!) * inner + i]!;
        }
  },

  scatterAdd(src, idx, out, { outer, n, inner, m }: AxisLayout) {
    const sd = src.data,
      id = idx.data,
      od = out.data;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < m; j++)
        for (let i = 0; i < inner; i++) {
          const q = (o * m + j) * inner + i;
          od[(o * n + id[q]!) * inner + i]! += sd[q]!;
        }
  },

  indexSelect(x, idx, out, { outer, n, inner, m }: AxisLayout) {
    const xd = x.data,
      id = idx.data,
      od = out.data;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < m; j++) {
        const from = (o * n + id[j]!) * inner,
          to = (o * m + j) * inner;
        for (let i = 0; i < inner; i++) od[to + i] = xd[from + i]!;
      }
  },

  indexAdd(src, idx, out, { outer, n, inner, m }: AxisLayout) {
    const sd = src.data,
      id = idx.data,
      od = out.data;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < m; j++) {
        const to = (o * n + id[j]!) * inner,
          from = (o * m + j) * inner;
        for (let i = 0; i < inner; i++) od[to + i]! += sd[from + i]!;
      }
  },

  sgdStep: sgdStepReference,
  crossEntropyRows: crossEntropyRowsReference,
  crossEntropyRowsGrad: crossEntropyRowsGradReference,
  sumSquares(x) {
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`sumSquares: expected a float storage, got ${x.dtype}`);
    return sumSquaresReference(x);
  },
};
