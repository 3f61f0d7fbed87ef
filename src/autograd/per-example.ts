/**
 * Per-example gradients: for a batch of B examples with losses l_1..l_B, the gradient of each
 * example's OWN loss, g_i = dl_i/dtheta, returned as one tensor of shape [B, ...param.shape] per
 * parameter. Their mean over the batch is the ordinary gradient of the mean loss, because
 * d/dtheta (1/B sum_i l_i) = 1/B sum_i dl_i/dtheta.
 *
 * How it is done without looping over examples (Goodfellow 2015, "Efficient per-example gradient
 * computations"): one forward pass records, for each layer with a fast rule, its input x and its
 * output y. One backward pass of sum_i l_i gives dY = d(sum_j l_j)/dy; since y_i (row i) only
 * reaches l_i when no layer mixes examples, row i of dY is dl_i/dy_i, the example's own
 * "delta". A layer's per-example gradient then follows from x_i and delta_i alone: for
 * Linear (y = x W^T + b), grad_i W = delta_i x_i^T (an outer product, all B at once) and
 * grad_i b = delta_i; Conv2d, Embedding and LayerNorm have rules of the same kind
 * (per-example-rules.ts). Every parameter without a fast rule gets the generic fallback: one
 * backward pass per example through the same recorded graph, seeded with the example's one-hot
 * vector (exact for any layer that does not mix examples, with the same dropout masks).
 *
 * Assumed throughout, as in every per-example method: axis 0 of the model's input, of its output,
 * and of each fast layer's input and output is the example axis (a time-first [T, B, F] sequence
 * layout breaks this), and no layer mixes examples (BatchNorm in training is refused; a custom
 * layer that averages over the batch cannot be detected).
 *
 * The same recorded deltas give per-example gradient NORMS (and dot products with a given
 * vector) without forming the [B, ...] tensors, and DP-SGD's sum of clipped gradients.
 *
 * The autograd layer does not import nn: layers are recognised by their class name and
 * checked against the operations they recorded; a check that fails sends the layer's
 * parameters to the fallback, so a fast rule is never applied to a layer it does not fit.
 */
import { enableGrad, noGrad } from '../core/grad-mode.js';
import { shapeStr } from '../core/shape.js';
import { scope, Tensor } from '../core/tensor.js';
import { add, detach, full, mul, ones, reshape, sqrt, square, sum, tensor, zeros } from '../ops/index.js';
import type { Call, LayerRule } from './per-example-rules.js';
import { RULES } from './per-example-rules.js';
import { backwardPass, topoSort } from './tape.js';

/** What perExampleGrads needs from a model: the library's Module has all of it. */
export interface PerExampleModel {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  /** The model's layers (for the fast rules and the BatchNorm check); without it every parameter uses the fallback. */
  namedModules?(): [string, object][];
}

/** A loss that, given { reduction: 'none' }, returns one loss per example, shape [B]. */
export type PerExampleLossFn = (output: Tensor, target: Tensor, options: { reduction: 'none' }) => Tensor;

export interface PerExampleOptions {
  /** The parameters to differentiate (default: all of model.parameters()). */
  params?: readonly Tensor[];
  /** 'auto' (default): fast rules where a layer has one; 'fallback': one backward per example for everything (a reference). */
  method?: 'auto' | 'fallback';
}

export interface PerExampleGrads {
  /** Each example's loss, shape [B]. */
  losses: Tensor;
  /** For every parameter, its per-example gradients, shape [B, ...param.shape]. */
  grads: Map<Tensor, Tensor>;
  /** The parameters that had no fast rule and took the one-backward-per-example fallback. */
  fallbackParams: Tensor[];
}

export interface PerExampleNorms {
  losses: Tensor;
  /** ||g_i|| over all the parameters together, shape [B]. */
  norms: Tensor;
}

/**
 * Layers whose output for one example depends on other examples of the batch: those that say so
 * (mixesExamples, as BatchNorm does) or are named BatchNorm*, except in eval mode with running
 * statistics, where BatchNorm is a fixed per-channel affine map (and the fallback handles it).
 */
function mixesExamples(m: object): boolean {
  const r = m as { mixesExamples?: unknown; training?: unknown; runningMean?: unknown };
  const named = /^BatchNorm[123]d$/.test(m.constructor?.name ?? '');
  if (!(r.mixesExamples === true || named)) return false;
  return !(r.training === false && r.runningMean instanceof Tensor);
}

interface Analysis {
  losses: Tensor;
  output: Tensor;
  B: number;
  /** Fast layers with their calls and the output deltas dl_i/dy_i of each call. */
  fast: { rule: LayerRule; m: Record<string, unknown>; calls: { call: Call; dy: Tensor }[] }[];
  /** Parameters the fallback handles. */
  slow: Tensor[];
}

/** How many recorded ops take each tensor as an input. */
function consumerCounts(losses: Tensor): Map<Tensor, number> {
  const counts = new Map<Tensor, number>();
  for (const t of topoSort([losses])) for (const i of t.node?.inputs ?? []) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

/**
 * The forward pass with the fast layers' calls recorded, the per-example losses, and one backward
 * pass of sum_i l_i to the fast layers' outputs. Must run inside a scope with `params` tracked.
 */
function analyse(fn: string, model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, params: readonly Tensor[], method: 'auto' | 'fallback'): Analysis {
  const B = x.shape[0];
  if (x.rank < 1 || B === undefined || B < 1) throw new RangeError(`${fn}: the input must have a batch axis first with at least one example, got shape ${shapeStr(x.shape)}`);
  const modules = model.namedModules?.() ?? [];
  for (const [name, m] of modules) {
    if (mixesExamples(m)) {
      throw new Error(`${fn}: layer '${name || '(model)'}' (${m.constructor.name}) mixes the examples of a batch (its output for one example depends on the others through the batch statistics), so per-example gradients are undefined there; use GroupNorm or LayerNorm, which normalise each example on its own`);
    }
  }
  const wanted = new Set(params);
  const candidates: { rule: LayerRule; m: Record<string, unknown>; ps: Tensor[]; calls: Call[] }[] = [];
  const claimed = new Set<Tensor>();
  if (method === 'auto') {
    for (const [, m] of modules) {
      const rule = RULES[m.constructor.name];
      const ps = rule?.params(m as Record<string, unknown>);
      if (!rule || !ps || !ps.every((p) => wanted.has(p) && !claimed.has(p))) continue;
      ps.forEach((p) => claimed.add(p));
      candidates.push({ rule, m: m as Record<string, unknown>, ps, calls: [] });
    }
  }
  // Record each candidate's calls by wrapping its forward on the instance for this pass only.
  const restore: (() => void)[] = [];
  for (const c of candidates) {
    const m = c.m as { forward: (x: Tensor) => Tensor };
    const own = Object.getOwnPropertyDescriptor(m, 'forward');
    const original = m.forward;
    m.forward = (input: Tensor) => {
      const out = original.call(m, input);
      c.calls.push({ x: input, y: out });
      return out;
    };
    restore.push(() => (own ? Object.defineProperty(m, 'forward', own) : delete (m as { forward?: unknown }).forward));
  }
  let losses: Tensor, output: Tensor;
  try {
    output = enableGrad(() => model.forward(x));
    losses = enableGrad(() => lossFn(output, y, { reduction: 'none' }));
  } finally {
    for (const r of restore) r();
  }
  if (!(losses instanceof Tensor) || losses.rank !== 1 || losses.shape[0] !== B) {
    const got = losses instanceof Tensor ? shapeStr(losses.shape) : typeof losses;
    throw new RangeError(`${fn}: the loss returned ${got} for a batch of ${B}; it must accept { reduction: 'none' } and return one loss per example, shape [${B}] (e.g. (out, y, o) => crossEntropy(out, y, o))`);
  }
  // A fast rule holds only if every use of its parameters went through the calls it saw (no
  // weight tying with another layer) and each call recorded the expected operations.
  const counts = consumerCounts(losses);
  const fast: Analysis['fast'] = [];
  for (const c of candidates) {
    const ok = c.calls.length > 0 && c.calls.every((call) => c.rule.verify(c.m, call, B)) && c.ps.every((p) => counts.get(p) === c.calls.length);
    if (ok) fast.push({ rule: c.rule, m: c.m, calls: c.calls.map((call) => ({ call, dy: call.y })) });
    else c.ps.forEach((p) => claimed.delete(p));
  }
  const outputs = fast.flatMap((f) => f.calls.map((c) => c.call.y));
  if (outputs.length) {
    // d(sum_i l_i)/dy: row i is example i's delta, since y_i reaches no other example's loss.
    const dY = backwardPass([losses], [ones([B], { dtype: losses.dtype })], outputs, false);
    for (const f of fast) for (const c of f.calls) c.dy = dY.get(c.call.y)!;
  }
  return { losses, output, B, fast, slow: params.filter((p) => !claimed.has(p)) };
}

/** The generic rule: for each example, one backward pass of l_i through the shared graph. */
function fallbackGrads(a: Analysis, into: Map<Tensor, Tensor>): void {
  if (!a.slow.length) return;
  const { B, losses } = a;
  const bufs = a.slow.map((p) => (p.dtype === 'float64' ? new Float64Array(B * p.size) : new Float32Array(B * p.size)));
  for (let i = 0; i < B; i++) {
    scope(() => {
      const e = new Float64Array(B);
      e[i] = 1;
      const g = backwardPass([losses], [tensor(e, { dtype: losses.dtype })], a.slow, false);
      a.slow.forEach((p, k) => bufs[k]!.set(g.get(p)!.data, i * p.size));
    });
  }
  a.slow.forEach((p, k) => into.set(p, tensor(bufs[k]!, { shape: [B, ...p.shape], dtype: p.dtype })));
}

/** Run `body` on the analysis of one batch, in a scope that frees the graph afterwards. */
function withAnalysis<T>(fn: string, model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, options: PerExampleOptions, body: (a: Analysis) => T): T {
  const params = [...(options.params ?? model.parameters())];
  for (const p of params) {
    if (!(p instanceof Tensor) || (p.dtype !== 'float32' && p.dtype !== 'float64')) throw new TypeError(`${fn}: every parameter must be a float32 or float64 Tensor`);
  }
  return scope(() => {
    for (const p of params) p.tracked++;
    try {
      const a = analyse(fn, model, lossFn, x, y, params, options.method ?? 'auto');
      return noGrad(() => body(a));
    } finally {
      for (const p of params) p.tracked--;
    }
  });
}

/**
 * Exact per-example gradients of every parameter: grads.get(p) has shape [B, ...p.shape] and
 * row i is the gradient of example i's loss alone. Layers that mix examples (BatchNorm) are an
 * error: per-example gradients are undefined there.
 */
export function perExampleGrads(model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, options: PerExampleOptions = {}): PerExampleGrads {
  return withAnalysis('perExampleGrads', model, lossFn, x, y, options, (a) => {
    const grads = new Map<Tensor, Tensor>();
    for (const f of a.fast) {
      for (const { call, dy } of f.calls) {
        for (const [p, g] of f.rule.grads(f.m, call, dy, a.B)) {
          const prev = grads.get(p);
          grads.set(p, prev ? add(prev, g) : g); // a layer called twice: its contributions add up
        }
      }
    }
    fallbackGrads(a, grads);
    const ordered = new Map<Tensor, Tensor>();
    for (const p of options.params ?? model.parameters()) ordered.set(p, grads.get(p)!);
    return { losses: detach(a.losses), grads: ordered, fallbackParams: a.slow };
  });
}

/**
 * Sum over parameters of the squared per-example norms ||g_i||^2, shape [B], and, given one
 * tensor per parameter in `v`, the dot products <g_i, v>, without [B, ...] tensors for fast
 * layers called once (a layer called several times, and the fallback, materialise theirs).
 */
function reduceGrads(a: Analysis, v?: Map<Tensor, Tensor>): { normSq: Tensor; dots: Tensor | null } {
  let normSq: Tensor = zeros([a.B], { dtype: a.losses.dtype });
  let dots: Tensor | null = v ? zeros([a.B], { dtype: a.losses.dtype }) : null;
  const materialised = new Map<Tensor, Tensor>();
  for (const f of a.fast) {
    if (f.calls.length === 1) {
      const { call, dy } = f.calls[0]!;
      normSq = add(normSq, f.rule.normSq(f.m, call, dy, a.B));
      if (v && dots) dots = add(dots, f.rule.dot(f.m, call, dy, a.B, v));
      continue;
    }
    // Called more than once: the calls' gradients add before the norm is taken.
    for (const { call, dy } of f.calls) for (const [p, g] of f.rule.grads(f.m, call, dy, a.B)) materialised.set(p, materialised.has(p) ? add(materialised.get(p)!, g) : g);
  }
  fallbackGrads(a, materialised);
  for (const [p, g] of materialised) {
    const rows = reshape(g, [a.B, -1]);
    normSq = add(normSq, sum(square(rows), [1]));
    if (v && dots) dots = add(dots, sum(mul(rows, reshape(v.get(p)!, [1, -1])), [1]));
  }
  return { normSq, dots };
}

/** ||g_i|| (over all parameters together) for every example, shape [B], without materialising [B, ...] tensors where a layer allows it. */
export function perExampleGradNorms(model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, options: PerExampleOptions = {}): PerExampleNorms {
  return withAnalysis('perExampleGradNorms', model, lossFn, x, y, options, (a) => ({ losses: detach(a.losses), norms: sqrt(reduceGrads(a).normSq) }));
}

export interface ClippedGradSum {
  losses: Tensor;
  /** The model's output for the batch (for accuracy). */
  output: Tensor;
  /** ||g_i|| before clipping, shape [B]. */
  norms: Tensor;
  /** sum_i min(1, C / ||g_i||) g_i for every parameter (same shapes as the parameters). */
  grads: Map<Tensor, Tensor>;
}

/**
 * The sum of per-example gradients each clipped to norm <= maxNorm (DP-SGD's clipping), without
 * materialising them: the norms come from reduceGrads; then, with c_i = min(1, C / ||g_i||), a
 * fast layer forms sum_i c_i g_i from its inputs and deltas (for Linear, (c * delta)^T x: one
 * matrix product), and the other parameters get it as the gradient of sum_i c_i l_i (the c_i
 * held constant): one more backward pass through the same graph, seeded with c.
 */
export function clippedGradSum(model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, maxNorm: number, options: PerExampleOptions = {}): ClippedGradSum {
  if (!(maxNorm > 0)) throw new RangeError(`clippedGradSum: maxNorm must be > 0, got ${maxNorm}`);
  const params = [...(options.params ?? model.parameters())];
  return withAnalysis('clippedGradSum', model, lossFn, x, y, { ...options, params }, (a) => {
    const normSq = reduceGrads(a).normSq.dataSync();
    const c = new Float64Array(a.B);
    const norms = new Float64Array(a.B);
    for (let i = 0; i < a.B; i++) {
      norms[i] = Math.sqrt(normSq[i]!);
      c[i] = norms[i]! > maxNorm ? maxNorm / norms[i]! : 1;
    }
    // Fast layers: sum_i c_i g_i from their inputs and deltas; the rest: one backward pass seeded with c.
    const cT = tensor(c, { dtype: a.losses.dtype });
    const grads = new Map<Tensor, Tensor>();
    for (const f of a.fast) {
      for (const { call, dy } of f.calls) for (const [p, g] of f.rule.weightedSum(f.m, call, dy, a.B, cT)) grads.set(p, grads.has(p) ? add(grads.get(p)!, g) : g);
    }
    if (a.slow.length) for (const [p, g] of backwardPass([a.losses], [cT], a.slow, false)) grads.set(p, g);
    return { losses: detach(a.losses), output: detach(a.output), norms: tensor(norms, { dtype: a.losses.dtype }), grads: new Map(params.map((p) => [p, grads.get(p)!] as [Tensor, Tensor])) };
  });
}

export interface PerExampleSummary {
  losses: Tensor;
  /** The gradient of the mean loss, G_hat = (1/B) sum_i g_i, for every parameter. */
  meanGrads: Map<Tensor, Tensor>;
  /** ||g_i||^2, shape [B]. */
  normSq: Tensor;
  /** <g_i, G_hat>, shape [B]. */
  dotsWithMean: Tensor;
}

/**
 * What the gradient statistics need, without materialising per-example gradients where the
 * layers allow: the mean gradient (one backward pass seeded with 1/B), each ||g_i||^2, and each
 * <g_i, G_hat> (for the cosine of every example's gradient to the mean).
 */
export function perExampleSummary(model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, options: PerExampleOptions = {}): PerExampleSummary {
  const params = [...(options.params ?? model.parameters())];
  return withAnalysis('perExampleSummary', model, lossFn, x, y, { ...options, params }, (a) => {
    const g = backwardPass([a.losses], [full([a.B], 1 / a.B, { dtype: a.losses.dtype })], params, false);
    const meanGrads = new Map(params.map((p) => [p, g.get(p)!] as [Tensor, Tensor]));
    const { normSq, dots } = reduceGrads(a, meanGrads);
    return { losses: detach(a.losses), meanGrads, normSq, dotsWithMean: dots! };
  });
}
