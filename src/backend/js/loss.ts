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
 * Calls fn(i, target, stats, round) for each row i of x with its statistics computed (the steps
 * both kernels share), after checking the row's target.
 */
function eachRow(x: Storage, target: Storage, rows: number, cols: number, fn: (i: number, t: number, st: RowStats, r: (v: number) => number) => void): void {
  const r = x.dtype === 'float32' ? Math.fround : (v: number) => v;
  const xd = x.data,
    td = target.data;
  const st: RowStats = { s: new Float64Array(cols), e: new Float64Array(cols), S: 0, L: 0 };
  for (let i = 0; i < rows; i++) {
    const t = td[i]!;
    checkTarget(t, cols, i);
    rowStats(xd, i * cols, cols, r, st);
    fn(i, t, st, r);
  }
}

/** Backend.crossEntropyRows, written out. */
export function crossEntropyRowsReference(x: Storage, target: Storage, out: Storage, rows: number, cols: number): void {
  const od = out.data;
  eachRow(x, target, rows, cols, (i, t, st, r) => {
    od[i] = -r(st.s[t]! - st.L);
  });
}

/** Backend.crossEntropyRowsGrad, written out. */
export function crossEntropyRowsGradReference(x: Storage, target: Storage, g: Storage, out: Storage, rows: number, cols: number): void {
  const gd = g.data,
    od = out.data;
  eachRow(x, target, rows, cols, (i, t, st, r) => {
    const gi = gd[i]!;
    for (let j = 0; j < cols; j++) od[i * cols + j] = r(r(r(st.e[j]! / st.S) - (j === t ? 1 : 0)) * gi);
  });
}
