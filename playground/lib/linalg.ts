/**
 * Small vector helpers for drawing: dot products, norms and the top principal direction of a
 * handful of vectors. These only choose where to look (a 2-D view of weight space); every
 * gradient, loss and weight drawn comes from Descent.
 */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>, aOff = 0, bOff = 0, n = a.length): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[aOff + k]! * b[bOff + k]!;
  return s;
}

export const norm = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));

/** cos(a, b); NaN when either is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / (norm(a) * norm(b));
}

/** The mean of the B rows of a B x P matrix. */
export function rowMean(rows: Float64Array, B: number, P: number): Float64Array {
  const m = new Float64Array(P);
  for (let i = 0; i < B; i++) for (let k = 0; k < P; k++) m[k]! += rows[i * P + k]!;
  for (let k = 0; k < P; k++) m[k]! /= B;
  return m;
}

/** Unit vector along v (zeros when v is zero). */
export function unit(v: Float64Array): Float64Array {
  const n = norm(v);
  return n > 0 ? v.map((x) => x / n) : new Float64Array(v.length);
}

/**
 * The unit direction along which the rows of `rows` (B x P) spread most: the top eigenvector of
 * rows^T rows, found through the small B x B Gram matrix by power iteration (rows^T v for its top
 * eigenvector v). Zeros when every row is zero.
 */
export function topDirection(rows: Float64Array, B: number, P: number, iterations = 100): Float64Array {
  const K = new Float64Array(B * B);
  for (let i = 0; i < B; i++) for (let j = 0; j <= i; j++) K[i * B + j] = K[j * B + i] = dot(rows, rows, i * P, j * P, P);
  let v = new Float64Array(B).fill(1 / Math.sqrt(B));
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(B);
    for (let i = 0; i < B; i++) w[i] = dot(K, v, i * B, 0, B);
    const n = norm(w);
    if (!(n > 0)) break;
    v = w.map((x) => x / n);
  }
  const u = new Float64Array(P);
  for (let i = 0; i < B; i++) for (let k = 0; k < P; k++) u[k]! += v[i]! * rows[i * P + k]!;
  return unit(u);
}

/** Remove from each row its component along the unit vector u (rows is changed in place). */
export function removeComponent(rows: Float64Array, B: number, P: number, u: Float64Array): Float64Array {
  for (let i = 0; i < B; i++) {
    const c = dot(rows, u, i * P, 0, P);
    for (let k = 0; k < P; k++) rows[i * P + k]! -= c * u[k]!;
  }
  return rows;
}

/** A unit vector orthogonal to u, from a fixed pseudo-random pattern (for when the data gives no direction). */
export function someOrthogonal(u: Float64Array, seed = 1): Float64Array {
  const v = Float64Array.from(u, (_, k) => Math.sin((k + 1) * 12.9898 * seed) * 43758.5453 - Math.floor(Math.sin((k + 1) * 12.9898 * seed) * 43758.5453) - 0.5);
  return unit(removeComponent(v, 1, v.length, u));
}
