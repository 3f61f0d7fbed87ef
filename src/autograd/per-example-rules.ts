/**
 * Fast per-example gradient rules, one per layer kind, used by per-example.ts. Each rule gets a
 * layer's recorded call (its input x and output y) and delta = d(sum_j l_j)/dy, whose row i is
 * example i's own dl_i/dy_i, and forms all B per-example gradients at once. Layers are recognised
 * by class name (autograd does not import nn) and each rule checks, on the recorded graph, that
 * the call computed what the rule assumes; if not, the layer's parameters take the fallback.
 */
import { shapeSize } from '../core/shape.js';
import { Tensor } from '../core/tensor.js';
import { add, cast, indexAdd, indexSelect, matmul, mul, ne, permute, reshape, square, sum, tensor, unsqueeze } from '../ops/index.js';

/** One call of a layer during the forward pass. */
export interface Call {
  x: Tensor;
  y: Tensor;
}

type Mod = Record<string, unknown>;

/** A fast rule: per-example gradients (and squared norms) of a layer's parameters from its inputs and output deltas. */
export interface LayerRule {
  /** The parameters this rule handles, or null when the module does not fit the rule. */
  params(m: Mod): Tensor[] | null;
  /** Whether the recorded operations of one call are the ones the rule assumes. */
  verify(m: Mod, call: Call, B: number): boolean;
  /** grad_i of each parameter for one call, shape [B, ...param.shape]. */
  grads(m: Mod, call: Call, dy: Tensor, B: number): Map<Tensor, Tensor>;
  /** sum over the rule's parameters of ||grad_i||^2 for one call, shape [B], without forming [B, ...] tensors where possible. */
  normSq(m: Mod, call: Call, dy: Tensor, B: number): Tensor;
  /** sum over the rule's parameters of <grad_i, v> for one call, shape [B], where v gives one tensor per parameter. */
  dot(m: Mod, call: Call, dy: Tensor, B: number, v: Map<Tensor, Tensor>): Tensor;
  /** sum_i c_i grad_i of each parameter for one call (c: [B] weights), shaped like the parameters. */
  weightedSum(m: Mod, call: Call, dy: Tensor, B: number, c: Tensor): Map<Tensor, Tensor>;
}

const asTensor = (v: unknown): Tensor | null => (v instanceof Tensor ? v : null);

/** A [B, ...rest] tensor viewed as [B, T, last] (T = product of the middle axes; 1 for 2-D inputs). */
function asBTF(t: Tensor, B: number, last = t.shape[t.rank - 1]!): Tensor {
  return reshape(t, [B, -1, last]);
}

/** The input of y's recording op if it is `op` (and, when given, its input `at` is `is`). */
function through(y: Tensor | undefined, op: string, at?: number, is?: Tensor): Tensor | undefined {
  const n = y?.node;
  if (!n || n.op !== op || (at !== undefined && n.inputs[at] !== is)) return undefined;
  return n.inputs[0];
}

/** Norms, dot products and weighted sums from materialised per-example gradients (for rules whose [B, ...] tensors are small). */
function viaGrads(rule: Pick<LayerRule, 'grads'>): Pick<LayerRule, 'normSq' | 'dot' | 'weightedSum'> {
  return {
    weightedSum(m, call, dy, B, c) {
      const out = new Map<Tensor, Tensor>();
      for (const [p, g] of rule.grads(m, call, dy, B)) out.set(p, reshape(matmul(reshape(c, [1, B]), reshape(g, [B, -1])), p.shape));
      return out;
    },
    normSq(m, call, dy, B) {
      let s: Tensor | null = null;
      for (const g of rule.grads(m, call, dy, B).values()) {
        const t = sum(square(reshape(g, [B, -1])), [1]);
        s = s ? add(s, t) : t;
      }
      return s!;
    },
    dot(m, call, dy, B, v) {
      let s: Tensor | null = null;
      for (const [p, g] of rule.grads(m, call, dy, B)) {
        const t = sum(mul(reshape(g, [B, -1]), reshape(v.get(p)!, [1, -1])), [1]);
        s = s ? add(s, t) : t;
      }
      return s!;
    },
  };
}

/**
 * Linear, y = x W^T + b (W [out, in], b [out]); x may have extra axes [B, T..., in], which are
 * summed over within an example. With delta = dl/dy viewed as [B, T, out] and x as [B, T, in]:
 *   grad_i W = sum_t delta_it x_it^T = (delta_i^T x_i), one batched matmul for all i: [B, out, in]
 *   grad_i b = sum_t delta_it
 * Squared norms without forming [B, out, in]: for T = 1, ||delta_i x_i^T||_F^2 = ||x_i||^2 ||delta_i||^2;
 * for T > 1, ||sum_t delta_t x_t^T||^2 = sum_{t,s} (delta_t . delta_s)(x_t . x_s), from the two
 * [B, T, T] Gram matrices (cheaper than the product while T^2 < out * in).
 * Dot products with V (like W): <grad_i W, V> = sum_t delta_it^T V x_it = sum((delta_i V) * x_i).
 */
const linearRule: LayerRule = {
  params(m) {
    const w = asTensor(m.weight), b = m.bias === null ? null : asTensor(m.bias);
    if (!w || w.rank !== 2 || (m.bias !== null && (!b || b.rank !== 1 || b.shape[0] !== w.shape[0]))) return null;
    return b ? [w, b] : [w];
  },
  verify(m, { x, y }, B) {
    if (x.rank < 2 || x.shape[0] !== B || y.shape[0] !== B) return false;
    let z: Tensor | undefined = m.bias ? through(y, 'add', 1, m.bias as Tensor) : y;
    if (z?.node?.op === 'reshape') z = z.node.inputs[0];
    return through(z, 'matmul', 1, m.weight as Tensor) !== undefined;
  },
  grads(m, { x }, dy, B) {
    const w = m.weight as Tensor, b = m.bias as Tensor | null;
    const d3 = asBTF(dy, B), x3 = asBTF(x, B);
    // T = 1: the outer products delta_i x_i^T as a broadcast product [B, out, 1] * [B, 1, in]
    // (one write per entry; a matrix product with inner size 1 would spend its time packing).
    const gw = d3.shape[1] === 1 ? mul(reshape(d3, [B, -1, 1]), x3) : matmul(d3, x3, { transA: true });
    const out = new Map<Tensor, Tensor>([[w, gw]]);
    if (b) out.set(b, sum(d3, [1]));
    return out;
  },
  normSq(m, { x }, dy, B) {
    const d3 = asBTF(dy, B), x3 = asBTF(x, B);
    const [T, outF, inF] = [d3.shape[1]!, d3.shape[2]!, x3.shape[2]!];
    let w: Tensor;
    if (T === 1) w = mul(sum(square(x3), [1, 2]), sum(square(d3), [1, 2]));
    else if (T * T <= outF * inF) w = sum(mul(matmul(x3, x3, { transB: true }), matmul(d3, d3, { transB: true })), [1, 2]);
    else w = sum(square(matmul(d3, x3, { transA: true })), [1, 2]);
    return m.bias ? add(w, sum(square(sum(d3, [1])), [1])) : w;
  },
  dot(m, { x }, dy, B, v) {
    const d3 = asBTF(dy, B);
    const w = sum(mul(matmul(d3, v.get(m.weight as Tensor)!), asBTF(x, B)), [1, 2]);
    return m.bias ? add(w, sum(mul(sum(d3, [1]), v.get(m.bias as Tensor)!), [1])) : w;
  },
  // sum_i c_i delta_i^T x_i = (c * delta)^T x over all B T rows: one matrix product, as in backward.
  weightedSum(m, { x }, dy, B, c) {
    const w = m.weight as Tensor, b = m.bias as Tensor | null;
    const [outF, inF] = w.shape as [number, number];
    const dc = reshape(mul(asBTF(dy, B), reshape(c, [B, 1, 1])), [-1, outF]);
    const out = new Map<Tensor, Tensor>([[w, matmul(dc, reshape(x, [-1, inF]), { transA: true })]]);
    if (b) out.set(b, sum(dc, [0]));
    return out;
  },
};

/**
 * LayerNorm's affine parameters: y = xhat * w + b, with xhat (the normalised input, read from the
 * recorded graph) depending on the example alone. Over the positions t of one example:
 *   grad_i w = sum_t delta_it * xhat_it,   grad_i b = sum_t delta_it   (each [B, ...normalizedShape]).
 */
function layerNormXhat(m: Mod, y: Tensor): Tensor | undefined {
  let z: Tensor | undefined = m.bias ? through(y, 'add', 1, m.bias as Tensor) : y;
  if (m.weight) z = through(z, 'mul', 1, m.weight as Tensor);
  return z;
}
const layerNormGrads: Pick<LayerRule, 'grads'> = {
  grads(m, { y }, dy, B) {
    const w = m.weight as Tensor | null, b = m.bias as Tensor | null;
    const shape = (w ?? b)!.shape;
    const K = shapeSize(shape);
    const d3 = asBTF(dy, B, K);
    const out = new Map<Tensor, Tensor>();
    if (w) out.set(w, reshape(sum(mul(d3, asBTF(layerNormXhat(m, y)!, B, K)), [1]), [B, ...shape]));
    if (b) out.set(b, reshape(sum(d3, [1]), [B, ...shape]));
    return out;
  },
};
const layerNormRule: LayerRule = {
  params(m) {
    const ps = [asTensor(m.weight), asTensor(m.bias)].filter((t): t is Tensor => t !== null);
    return ps.length ? ps : null;
  },
  verify(m, { x, y }, B) {
    return x.shape[0] === B && y.shape[0] === B && layerNormXhat(m, y) !== undefined;
  },
  ...layerNormGrads,
  ...viaGrads(layerNormGrads),
};

/**
 * Embedding, out[i, t] = W[idx_it]: example i's gradient adds delta_it into row idx_it of a zero
 * [V, D] matrix. All B at once: one indexAdd into [B V, D] at rows i V + idx_it. A padding index
 * receives nothing (its delta is masked). Norms without [B, V, D]:
 *   ||grad_i||^2 = sum_{t, s with idx_it = idx_is} delta_it . delta_is   (a masked [B, T, T] Gram matrix),
 * and <grad_i, V> = sum_t delta_it . V[idx_it].
 */
function embeddingDeltas(m: Mod, x: Tensor, dy: Tensor, B: number): { d3: Tensor; T: number } {
  const D = (m.weight as Tensor).shape[1]!;
  let d3 = reshape(dy, [B, -1, D]);
  const T = d3.shape[1]!;
  if (typeof m.paddingIdx === 'number') d3 = mul(d3, unsqueeze(cast(ne(reshape(x, [B, T]), m.paddingIdx), d3.dtype), 2));
  return { d3, T };
}
const embeddingRule: LayerRule = {
  params(m) {
    const w = asTensor(m.weight);
    return w && w.rank === 2 ? [w] : null;
  },
  verify(m, { x, y }, B) {
    const w = m.weight as Tensor;
    if (x.dtype !== 'int32' || x.rank < 1 || x.shape[0] !== B) return false;
    const rows = y.node?.op === 'reshape' ? y.node.inputs[0] : y; // no reshape when idx is [B]
    if (typeof m.paddingIdx === 'number') return rows?.node?.op === 'where' && through(rows.node.inputs[2], 'indexSelect') === w;
    return through(rows, 'indexSelect') === w;
  },
  grads(m, { x }, dy, B) {
    const w = m.weight as Tensor;
    const [V, D] = w.shape as [number, number];
    const { d3, T } = embeddingDeltas(m, x, dy, B);
    const idx = x.data;
    const rows = new Int32Array(B * T);
    for (let k = 0; k < B * T; k++) rows[k] = Math.floor(k / T) * V + idx[k]!;
    const g = indexAdd(reshape(d3, [B * T, D]), 0, tensor(rows, { dtype: 'int32' }), [B * V, D]);
    return new Map([[w, reshape(g, [B, V, D])]]);
  },
  normSq(m, { x }, dy, B) {
    const { d3, T } = embeddingDeltas(m, x, dy, B);
    const idx = x.data;
    const same = new Float64Array(B * T * T);
    for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) same[(i * T + t) * T + s] = idx[i * T + t] === idx[i * T + s] ? 1 : 0;
    return sum(mul(matmul(d3, d3, { transB: true }), tensor(same, { shape: [B, T, T], dtype: d3.dtype })), [1, 2]);
  },
  // sum_i c_i grad_i: every delta_it, scaled by c_i, added into row idx_it of one [V, D] matrix.
  weightedSum(m, { x }, dy, B, c) {
    const w = m.weight as Tensor;
    const { d3, T } = embeddingDeltas(m, x, dy, B);
    const scaled = reshape(mul(d3, reshape(c, [B, 1, 1])), [B * T, w.shape[1]!]);
    return new Map([[w, indexAdd(scaled, 0, reshape(x, [B * T]), w.shape)]]);
  },
  dot(m, { x }, dy, B, v) {
    const { d3, T } = embeddingDeltas(m, x, dy, B);
    const picked = indexSelect(v.get(m.weight as Tensor)!, 0, reshape(x, [B * T]));
    return sum(mul(d3, reshape(picked, d3.shape)), [1, 2]);
  },
};

/**
 * Conv2d (groups = 1) via the unfolded input. conv2d computes W [O, C kh kw] @ cols, with cols
 * [C kh kw, N L] the windows of the padded input (L = OH OW positions). Read from the recorded
 * graph and viewed as U [N, C kh kw, L], with delta [N, O, L]:
 *   grad_i W = delta_i U_i^T (a batched matmul: [N, O, C kh kw]),   grad_i b = sum_l delta_il.
 */
function convColumns(m: Mod, y: Tensor): Tensor | undefined {
  let t = through(y, 'permute');
  if (m.bias) {
    const bias = t?.node?.op === 'add' ? t.node.inputs[1] : undefined;
    if (!bias || through(bias, 'reshape') !== m.bias) return undefined;
    t = t!.node!.inputs[0];
  }
  const mm = through(t, 'reshape');
  if (mm?.node?.op !== 'matmul' || mm.node.inputs[1]!.rank !== 2 || through(mm.node.inputs[0], 'reshape') !== m.weight) return undefined;
  return mm.node.inputs[1];
}
const convGrads: Pick<LayerRule, 'grads'> = {
  grads(m, { y }, dy, B) {
    const w = m.weight as Tensor, b = m.bias as Tensor | null;
    const cols = convColumns(m, y)!;
    const ckk = cols.shape[0]!, L = cols.shape[1]! / B;
    const U = permute(reshape(cols, [ckk, B, L]), [1, 0, 2]);
    const d3 = reshape(dy, [B, w.shape[0]!, L]);
    const out = new Map<Tensor, Tensor>([[w, reshape(matmul(d3, U, { transB: true }), [B, ...w.shape])]]);
    if (b) out.set(b, sum(d3, [2]));
    return out;
  },
};
const conv2dRule: LayerRule = {
  params(m) {
    const w = asTensor(m.weight), b = m.bias === null ? null : asTensor(m.bias);
    const groups = (m.options as { groups?: number } | undefined)?.groups ?? 1;
    if (!w || w.rank !== 4 || groups !== 1 || (m.bias !== null && (!b || b.rank !== 1))) return null;
    return b ? [w, b] : [w];
  },
  verify(m, { x, y }, B) {
    return x.rank === 4 && x.shape[0] === B && y.rank === 4 && y.shape[0] === B && convColumns(m, y) !== undefined;
  },
  ...convGrads,
  ...viaGrads(convGrads),
};

/** Fast rules by class name. */
export const RULES: Record<string, LayerRule> = { Linear: linearRule, LayerNorm: layerNormRule, Embedding: embeddingRule, Conv2d: conv2dRule };
