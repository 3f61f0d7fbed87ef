/**
 * Per-example gradient rules of the ops that meet parameters (the table is ops/table.ts
 * PER_EXAMPLE; the engine is autograd/per-example.ts). Each rule gets one use of a parameter:
 * input `at` of the op is the parameter (or a reshape of it), another input carries the B
 * examples, and dy, the gradient of sum_j l_j at the op's output, holds in example i's part
 * example i's own dl_i/dout (no op mixes examples). From these alone it forms every example's
 * gradient of the parameter at once (Goodfellow 2015, "Efficient per-example gradient
 * computations"). Where the examples lie is read from the op: for a matrix product, along the
 * other operand's free axis (rows of A in A @ W, columns of X in W @ X); for a broadcast
 * add or mul, along the first axis the parameter is broadcast over; for a row gather, along
 * the index. Each example's part must be one contiguous block of that axis (example-major).
 */
import { shapeSize, shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { mul, neg } from './elementwise.js';
import { tensor } from './creation.js';
import { matmul } from './matmul.js';
import { indexAdd, indexSelect, permute, reshape } from './movement.js';
import { sum } from './reduce.js';
import type { OpAttrs, PerExampleRule, PerExampleUse } from './types.js';

const square = (t: Tensor): Tensor => mul(t, t);

// ------------------------------------------------------------------------------- matmul --

type MatmulUse = PerExampleUse<OpAttrs['matmul']>;

/**
 * Parameter on the right, out = A @ W (W [k, n]) or A @ W^T (W stored [n, k]), A [..., m, k]:
 * the examples are A's rows (all leading axes and m together), viewed as [B, T, k] with dy as
 * [B, T, n]. Then grad_i W = A_i^T dy_i (T summed inside the example; [B, k, n], one batched
 * product), or its transpose for W^T. For T = 1 it is an outer product, formed as a broadcast
 * product (a matrix product with inner size 1 would spend its time packing).
 * Parameter on the left, out = W @ X with X [k, N] (a convolution's unfolded input): the
 * examples are X's columns, in B blocks of L; grad_i W = dy_i X_i^T over the block.
 */
function rightViews(u: MatmulUse, dy: Tensor): { a3: Tensor; d3: Tensor; k: number; n: number; T: number } {
  const A = u.inputs[0]!;
  const k = A.shape[A.rank - 1]!,
    n = dy.shape[dy.rank - 1]!;
  const a3 = reshape(A, [u.B, -1, k]),
    d3 = reshape(dy, [u.B, -1, n]);
  return { a3, d3, k, n, T: a3.shape[1]! };
}

function leftViews(u: MatmulUse, dy: Tensor): { U: Tensor; D: Tensor } {
  const X = u.inputs[1]!;
  const [k, N] = X.shape as [number, number];
  const L = N / u.B,
    m = dy.shape[0]!;
  return { U: permute(reshape(X, [k, u.B, L]), [1, 0, 2]), D: permute(reshape(dy, [m, u.B, L]), [1, 0, 2]) };
}

export const matmulPerExample: PerExampleRule<OpAttrs['matmul']> = {
  check(u) {
    const p = u.inputs[u.at]!,
      other = u.inputs[1 - u.at]!;
    if (p.rank !== 2) return `matmul: the parameter side has shape ${shapeStr(p.shape)}, not a matrix`;
    if (u.at === 1) {
      if (u.attrs.transA) return 'matmul: the examples would be in the columns of a transposed A';
      const rows = shapeSize(other.shape) / other.shape[other.rank - 1]!;
      return rows % u.B === 0 ? null : `matmul: A ${shapeStr(other.shape)} has ${rows} rows, not a multiple of the ${u.B} examples`;
    }
    if (u.attrs.transB || other.rank !== 2)
      return `matmul: with the parameter on the left, the other operand must be an untransposed matrix, got ${shapeStr(other.shape)}`;
    return other.shape[1]! % u.B === 0 ? null : `matmul: X ${shapeStr(other.shape)} has ${other.shape[1]} columns, not a multiple of the ${u.B} examples`;
  },
  grads(u, dy) {
    if (u.at === 0) {
      const { U, D } = leftViews(u, dy);
      return u.attrs.transA ? matmul(U, D, { transB: true }) : matmul(D, U, { transB: true });
    }
    const { a3, d3, k, n, T } = rightViews(u, dy);
    if (u.attrs.transB) return T === 1 ? mul(reshape(d3, [u.B, n, 1]), a3) : matmul(d3, a3, { transA: true });
    return T === 1 ? mul(reshape(a3, [u.B, k, 1]), d3) : matmul(a3, d3, { transA: true });
  },
  /**
   * ||grad_i W||^2 without [B, k, n]: for T = 1, ||a_i d_i^T||^2 = ||a_i||^2 ||d_i||^2; for T > 1,
   * ||sum_t a_t d_t^T||^2 = sum_{t,s} (a_t . a_s)(d_t . d_s), from two [B, T, T] Gram matrices
   * (cheaper than the product while T^2 < k n).
   */
  normSq(u, dy) {
    if (u.at === 0) return sum(square(reshape(this.grads(u, dy), [u.B, -1])), [1]);
    const { a3, d3, k, n, T } = rightViews(u, dy);
    if (T === 1) return mul(sum(square(a3), [1, 2]), sum(square(d3), [1, 2]));
    if (T * T <= k * n) return sum(mul(matmul(a3, a3, { transB: true }), matmul(d3, d3, { transB: true })), [1, 2]);
    return sum(square(this.grads(u, dy)), [1, 2]);
  },
  /** <grad_i W, V> = sum_t d_it^T V^T a_it = sum((a_i V) * d_i) (V [k, n]; for W^T, sum((d_i V) * a_i)). */
  dot(u, dy, v) {
    if (u.at === 0) return sum(mul(reshape(this.grads(u, dy), [u.B, -1]), reshape(v, [1, -1])), [1]);
    const { a3, d3 } = rightViews(u, dy);
    return u.attrs.transB ? sum(mul(matmul(d3, v), a3), [1, 2]) : sum(mul(matmul(a3, v), d3), [1, 2]);
  },
  /** sum_i c_i grad_i W = A^T (c * dy) over all rows: one matrix product, as in backward. */
  weightedSum(u, dy, c) {
    if (u.at === 0) return reshape(matmul(reshape(c, [1, u.B]), reshape(this.grads(u, dy), [u.B, -1])), u.inputs[0]!.shape);
    const { a3, d3, k, n } = rightViews(u, dy);
    const dc = reshape(mul(d3, reshape(c, [u.B, 1, 1])), [-1, n]),
      a2 = reshape(a3, [-1, k]);
    return u.attrs.transB ? matmul(dc, a2, { transA: true }) : matmul(a2, dc, { transA: true });
  },
};

// ---------------------------------------------------------------- broadcast add and mul --

/** The first output axis the parameter (input `at`, right-aligned) is broadcast over. */
function broadcastAxis(u: PerExampleUse<{}>): number {
  const out = u.out.shape,
    p = u.inputs[u.at]!.shape,
    lead = out.length - p.length;
  for (let j = 0; j < out.length; j++) if (j < lead || (p[j - lead] === 1 && out[j] !== 1)) return j;
  return -1;
}

function checkBroadcast(op: string, u: PerExampleUse<{}>): string | null {
  const j = broadcastAxis(u);
  if (j < 0)
    return `${op}: the parameter ${shapeStr(u.inputs[u.at]!.shape)} is not broadcast over any axis of the output ${shapeStr(u.out.shape)}, so no axis can hold the examples`;
  return u.out.shape[j]! % u.B === 0
    ? null
    : `${op}: output axis ${j} (size ${u.out.shape[j]}, the first the parameter is broadcast over) is not a multiple of the ${u.B} examples`;
}

/**
 * grad_i P for out = f(other, P) broadcast, given t = dy * d out / d P (dy for add, dy * other for
 * mul): example i's part of t summed over the axes P is broadcast along. The example axis j is
 * split into [B, j/B]; the result is moved to [B, ...P.shape].
 */
function sumToParam(u: PerExampleUse<{}>, t: Tensor): Tensor {
  const out = u.out.shape,
    p = u.inputs[u.at]!.shape,
    lead = out.length - p.length;
  const j = broadcastAxis(u);
  const padded = out.map((_, a) => (a < lead ? 1 : p[a - lead]!));
  const view = [...out.slice(0, j), u.B, out[j]! / u.B, ...out.slice(j + 1)];
  const target = [...padded.slice(0, j), u.B, 1, ...padded.slice(j + 1)];
  const axes = view.flatMap((dim, a) => (a !== j && target[a] === 1 && dim !== 1 ? [a] : []));
  let g = axes.length ? sum(reshape(t, view), axes, true) : reshape(t, view);
  if (padded.slice(0, j).some((dim) => dim !== 1)) g = permute(g, [j, ...view.map((_, a) => a).filter((a) => a !== j)]);
  return reshape(g, [u.B, ...p]);
}

export const addPerExample: PerExampleRule<{}> = {
  check: (u) => checkBroadcast('add', u),
  grads: (u, dy) => sumToParam(u, dy),
};

export const subPerExample: PerExampleRule<{}> = {
  check: (u) => checkBroadcast('sub', u),
  grads: (u, dy) => sumToParam(u, u.at === 0 ? dy : neg(dy)),
};

export const mulPerExample: PerExampleRule<{}> = {
  check: (u) => checkBroadcast('mul', u),
  grads: (u, dy) => sumToParam(u, mul(dy, u.inputs[1 - u.at]!)),
};

// ---------------------------------------------------------------------------- indexSelect --

type GatherUse = PerExampleUse<OpAttrs['indexSelect']>;

/**
 * A row gather (an embedding), out[r] = W[idx_r]: example i owns the block of T consecutive
 * indices, and its gradient adds dy_r into row idx_r of a zero W for each r of its block. All B
 * at once: one indexAdd into [B V, ...] at rows i V + idx_r. Norms without [B, V, D]:
 *   ||grad_i||^2 = sum_{r, s in block i with idx_r = idx_s} dy_r . dy_s   (a masked [B, T, T] Gram matrix),
 * and <grad_i, V> = sum_r dy_r . V[idx_r].
 */
function gatherViews(u: GatherUse, dy: Tensor): { d3: Tensor; T: number; idx: Tensor } {
  const idx = u.inputs[1]!;
  const d3 = reshape(dy, [u.B, idx.size / u.B, -1]);
  return { d3, T: d3.shape[1]!, idx };
}

export const indexSelectPerExample: PerExampleRule<OpAttrs['indexSelect']> = {
  check(u) {
    if (u.at !== 0 || u.attrs.axis !== 0) return 'indexSelect: only a gather of rows (axis 0) of the parameter has a rule';
    return u.inputs[1]!.size % u.B === 0 ? null : `indexSelect: ${u.inputs[1]!.size} indices are not a multiple of the ${u.B} examples`;
  },
  grads(u, dy) {
    const W = u.inputs[0]!,
      V = W.shape[0]!;
    const { d3, T, idx } = gatherViews(u, dy);
    const data = idx.dataSync(),
      rows = new Int32Array(idx.size);
    for (let r = 0; r < rows.length; r++) rows[r] = Math.floor(r / T) * V + data[r]!;
    const g = indexAdd(reshape(d3, [idx.size, -1]), 0, tensor(rows, { dtype: 'int32' }), [u.B * V, shapeSize(W.shape) / V]);
    return reshape(g, [u.B, ...W.shape]);
  },
  normSq(u, dy) {
    const { d3, T, idx } = gatherViews(u, dy);
    const data = idx.dataSync(),
      same = new Float64Array(u.B * T * T);
    for (let i = 0; i < u.B; i++)
      for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) same[(i * T + t) * T + s] = data[i * T + t] === data[i * T + s] ? 1 : 0;
    return sum(mul(matmul(d3, d3, { transB: true }), tensor(same, { shape: [u.B, T, T], dtype: d3.dtype })), [1, 2]);
  },
  dot(u, dy, v) {
    const { d3, idx } = gatherViews(u, dy);
    return sum(mul(d3, reshape(indexSelect(v, 0, idx), d3.shape)), [1, 2]);
  },
  /** sum_i c_i grad_i: every dy_r, scaled by its example's c_i, added into row idx_r of one zero W. */
  weightedSum(u, dy, c) {
    const W = u.inputs[0]!;
    const { d3, idx } = gatherViews(u, dy);
    return reshape(indexAdd(reshape(mul(d3, reshape(c, [u.B, 1, 1])), [idx.size, -1]), 0, idx, [W.shape[0]!, shapeSize(W.shape) / W.shape[0]!]), W.shape);
  },
};
