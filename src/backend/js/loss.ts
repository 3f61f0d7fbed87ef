/**
 * The reference of the fused softmax cross-entropy kernels (Backend.crossEntropyRows and
 * crossEntropyRowsGrad): the steps the ops compose (ops/reduce.ts logSoftmax, nn/classification.ts),
 * in the same order, each rounded to the dtype (float32 steps as float64 ones rounded once).
 */
import type { Storage } from '../../core/storage.js';

interface RowStats {
  /** s = x - shift for the row, rounded; e = exp(s) rounded; S = sum(e) rounded; L = log(S) rounded. */
  s: Float64Array;
  e: Float64Array;
  S: number;
  L: number;
}

function rowStats(x: ArrayLike<number>, at: number, cols: number, r: (v: number) => number, st: RowStats): void {
  // the row's maximum, NaN winning (reduce max), used as the shift only where finite
  let m = -Infinity;
  for (let j = 0; j < cols; j++) {
    const v = x[at + j]!;
    if (v !== v || v > m) m = v;
    if (m !== m) break;
  }
  const shift = Number.isFinite(m) ? m : 0;
  let sum = 0;
  for (let j = 0; j < cols; j++) {
    const s = r(x[at + j]! - shift);
    st.s[j] = s;
    const e = r(Math.exp(s));
    st.e[j] = e;
    sum += e;
  }
  st.S = r(sum);
  st.L = r(Math.log(st.S));
}

function checkTarget(t: number, cols: number, i: number): void {
  if (!(t >= 0 && t < cols)) throw new RangeError(`crossEntropyRows: target ${t} of row ${i} is outside [0, ${cols})`);
}

/**
 * The row statistics of float32 rows, written for V8: one typed element kind and Math.fround
 * inline, so it compiles to straight-line code (the generic rowStats goes through a rounding
 * closure and array-like reads). The same steps in the same order, so the same values.
 */
function rowStats32(x: Float32Array, at: number, cols: number, st: RowStats): void {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) {
    const v = x[at + j]!;
    if (v !== v || v > m) m = v;
    if (m !== m) break;
  }
  const shift = m - m === 0 ? m : 0;
  const s = st.s,
    e = st.e;
  let sum = 0;
  for (let j = 0; j < cols; j++) {
    const sj = Math.fround(x[at + j]! - shift);
    s[j] = sj;
    const ej = Math.fround(Math.exp(sj));
    e[j] = ej;
    sum += ej;
  }
  st.S = Math.fround(sum);
  st.L = Math.fround(Math.log(st.S));
}

function newStats(cols: number): RowStats {
  return { s: new Float64Array(cols), e: new Float64Array(cols), S: 0, L: 0 };
}

/** Backend.crossEntropyRows, written out. */
export function crossEntropyRowsReference(x: Storage, target: Storage, out: Storage, rows: number, cols: number): void {
  const od = out.data,
    td = target.data,
    st = newStats(cols);
  if (x.data instanceof Float32Array) {
    const xd = x.data;
    for (let i = 0; i < rows; i++) {
      const t = td[i]!;
      checkTarget(t, cols, i);
      rowStats32(xd, i * cols, cols, st);
      od[i] = -Math.fround(st.s[t]! - st.L);
    }
    return;
  }
  for (let i = 0; i < rows; i++) {
    const t = td[i]!;
    checkTarget(t, cols, i);
    rowStats(x.data, i * cols, cols, identity, st);
    od[i] = -(st.s[t]! - st.L);
  }
}

/** Backend.crossEntropyRowsGrad, written out. */
export function crossEntropyRowsGradReference(x: Storage, target: Storage, g: Storage, out: Storage, rows: number, cols: number): void {
  const gd = g.data,
    od = out.data,
    td = target.data,
    st = newStats(cols);
  const f32 = x.data instanceof Float32Array;
  for (let i = 0; i < rows; i++) {
    const t = td[i]!;
    checkTarget(t, cols, i);
    const gi = gd[i]!,
      e = st.e;
    if (f32) {
      rowStats32(x.data as Float32Array, i * cols, cols, st);
      const S = st.S;
      for (let j = 0; j < cols; j++) od[i * cols + j] = Math.fround(Math.fround(Math.fround(e[j]! / S) - (j === t ? 1 : 0)) * gi);
    } else {
      rowStats(x.data, i * cols, cols, identity, st);
      const S = st.S;
      for (let j = 0; j < cols; j++) od[i * cols + j] = (e[j]! / S - (j === t ? 1 : 0)) * gi;
    }
  }
}

const identity = (v: number): number => v;
