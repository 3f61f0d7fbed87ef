/**
 * Per-example gradients: for a batch of B examples with losses l_1..l_B, the gradient of each
 * example's OWN loss, g_i = dl_i/dtheta, returned as one tensor of shape [B, ...param.shape] per
 * parameter. Their mean over the batch is the ordinary gradient of the mean loss, because
 * d/dtheta (1/B sum_i l_i) = 1/B sum_i dl_i/dtheta.
 *
 * How it is done without looping over examples (Goodfellow 2015, "Efficient per-example gradient
 * computations"): one forward pass is recorded; one backward pass of sum_i l_i gives, at the
 * output of every op that uses a parameter, dY = d(sum_j l_j)/dy; since example i's part of y
 * only reaches l_i when no op mixes examples, that part of dY is dl_i/dy_i, the example's own
 * "delta". The op's per-example rule (ops/table.ts PER_EXAMPLE, beside the ops) then forms each
 * example's gradient from its other input and the delta: for y = x W^T, grad_i W = delta_i x_i^T
 * (an outer product, all B at once); for a broadcast bias add, grad_i b = delta_i summed over
 * the broadcast axes; a convolution's matmul, an embedding's row gather and a norm's affine mul
 * have rules of the same kind. A parameter used by several ops (a layer called twice, a tied
 * weight) adds up its uses. No layer is looked up: any model built from these ops, a user's own
 * layers included, gets the fast path. Every parameter used by an op without a rule (or one
 * whose rule does not fit) gets the generic fallback: one backward pass per example through the
 * same recorded graph, seeded with the example's one-hot vector (exact for any model that does
 * not mix examples, with the same dropout masks). perExamplePlan says, per parameter, which path
 * it takes and why.
 *
 * Assumed throughout, as in every per-example method: no op mixes examples (a layer that says
 * so with `mixesExamples`, like BatchNorm in training, is refused; one that does not say so
 * cannot be detected), and each op with a rule finds the examples where its rule says (for a
 * matmul, the other operand's rows or columns; for a broadcast add or mul, the first axis the
 * parameter is broadcast over), each example one contiguous block: axis 0 of the model's input
 * is the example axis (a time-first [T, B, F] sequence layout breaks this).
 *
 * The same deltas give per-example gradient NORMS (and dot products with a given vector)
 * without forming the [B, ...] tensors, and DP-SGD's sum of clipped gradients.
 */
import type { DType } from '../core/dtype.js';
import { isFloat } from '../core/dtype.js';
import { enableGrad, noGrad } from '../core/grad-mode.js';
import { shapeStr } from '../core/shape.js';
import { onDevice } from '../core/storage.js';
import { scope, Tensor } from '../core/tensor.js';
import { add, cast, detach, div, full, gt, matmul, mul, ones, reshape, sqrt, square, sum, tensor, where, zeros } from '../ops/index.js';
import type { ParamPlan, PerExamplePlanEntry, Use } from './per-example-plan.js';
import { describePlan, planParam, readGraph } from './per-example-plan.js';
import { backwardPass, topoSort } from './tape.js';

export type { PerExamplePlanEntry } from './per-example-plan.js';

/** What perExampleGrads needs from a model: the library's Module has all of it. */
export interface PerExampleModel {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  /** The model's layers, to refuse those that declare `mixesExamples` (BatchNorm in training). */
  namedModules?(): [string, object][];
  /** Parameter names, for perExamplePlan. */
  namedParameters?(): Iterable<[string, Tensor]>;
}

/** A loss that, given { reduction: 'none' }, returns one loss per example, shape [B]. */
export type PerExampleLossFn = (output: Tensor, target: Tensor, options: { reduction: 'none' }) => Tensor;

export interface PerExampleOptions {
  /** The parameters to differentiate (default: all of model.parameters()). */
  params?: readonly Tensor[];
  /** 'auto' (default): fast rules where the ops using a parameter have them; 'fallback': one backward per example for everything (a reference). */
  method?: 'auto' | 'fallback';
}

export interface PerExampleGrads {
  /** Each example's loss, shape [B]. */
  losses: Tensor;
  /** For every parameter, its per-example gradients, shape [B, ...param.shape]. */
  grads: Map<Tensor, Tensor>;
  /** The parameters that had no fast rule and took the one-backward-per-example fallback. */
  fallbackParams: Tensor[];
  /** Per parameter, the path it took and why (as perExamplePlan). */
  plan: PerExamplePlanEntry[];
}

export interface PerExampleNorms {
  losses: Tensor;
  /** ||g_i|| over all the parameters together, shape [B]. */
  norms: Tensor;
}

/**
 * Layers whose output for one example depends on other examples of the batch, as they declare
 * (`mixesExamples`, as BatchNorm does), except in eval mode with running statistics, where
 * BatchNorm is a fixed per-channel affine map.
 */
function mixesExamples(m: object): boolean {
  const r = m as { mixesExamples?: unknown; training?: unknown; runningMean?: unknown };
  if (r.mixesExamples !== true) return false;
  return !(r.training === false && r.runningMean instanceof Tensor);
}

/** A fast parameter: its uses, each with the delta at the op's output. */
interface FastParam {
  param: Tensor;
  uses: (Use & { dy: Tensor })[];
}

interface Analysis {
  losses: Tensor;
  output: Tensor;
  B: number;
  fast: FastParam[];
  /** Parameters the fallback handles. */
  slow: Tensor[];
  plans: ParamPlan[];
}

/**
 * The forward pass (with the input tracked, so that everything computed from it is recorded),
 * the per-example losses, each parameter's plan, and one backward pass of sum_i l_i to the
 * outputs of the ops with fast rules. Must run inside a scope with `params` tracked.
 */
function analyse(
  fn: string,
  model: PerExampleModel,
  lossFn: PerExampleLossFn,
  x: Tensor,
  y: Tensor,
  params: readonly Tensor[],
  method: 'auto' | 'fallback',
): Analysis {
  const B = x.shape[0];
  if (x.rank < 1 || B === undefined || B < 1)
    throw new RangeError(`${fn}: the input must have a batch axis first with at least one example, got shape ${shapeStr(x.shape)}`);
  for (const [name, m] of model.namedModules?.() ?? []) {
    if (mixesExamples(m)) {
      throw new Error(
        `${fn}: layer '${name || '(model)'}' (${m.constructor.name}) mixes the examples of a batch (its output for one example depends on the others through the batch statistics), so per-example gradients are undefined there; use GroupNorm or LayerNorm, which normalise each example on its own`,
      );
    }
  }
  const trackInput = isFloat(x.dtype);
  if (trackInput) x.tracked++;
  let losses: Tensor, output: Tensor;
  try {
    output = enableGrad(() => model.forward(x));
    losses = enableGrad(() => lossFn(output, y, { reduction: 'none' }));
  } finally {
    if (trackInput) x.tracked--;
  }
  if (!(losses instanceof Tensor) || losses.rank !== 1 || losses.shape[0] !== B) {
    const got = losses instanceof Tensor ? shapeStr(losses.shape) : typeof losses;
    throw new RangeError(
      `${fn}: the loss returned ${got} for a batch of ${B}; it must accept { reduction: 'none' } and return one loss per example, shape [${B}] (e.g. (out, y, o) => crossEntropy(out, y, o))`,
    );
  }
  const graph = readGraph(topoSort([losses]), x);
  const plans = params.map((p): ParamPlan =>
    method === 'fallback' ? { param: p, uses: null, reason: "fallback: method 'fallback' was asked for" } : planParam(p, B, graph),
  );
  const outputs = [...new Set(plans.flatMap((pl) => (pl.uses ?? []).map((use) => use.u.out)))];
  // d(sum_i l_i)/dy: example i's part is example i's delta, since y_i reaches no other example's loss.
  const dY = outputs.length ? backwardPass([losses], [ones([B], { dtype: losses.dtype })], outputs, false) : new Map<Tensor, Tensor>();
  const fast = plans.flatMap((pl) => (pl.uses ? [{ param: pl.param, uses: pl.uses.map((use) => ({ ...use, dy: dY.get(use.u.out)! })) }] : []));
  return { losses, output, B, fast, slow: plans.filter((pl) => !pl.uses).map((pl) => pl.param), plans };
}

/** Each example's gradient of one fast parameter, [B, ...p.shape]: the sum of its uses' rules. */
function fastGrads(f: FastParam, B: number): Tensor {
  let g: Tensor | null = null;
  for (const { rule, u, dy } of f.uses) {
    const part = reshape(rule.grads(u, dy), [B, ...f.param.shape]);
    g = g ? add(g, part) : part;
  }
  return g ?? zeros([B, ...f.param.shape], { dtype: f.param.dtype });
}

/** sum_i c_i g_i of one fast parameter (c: [B]). */
function fastWeightedSum(f: FastParam, B: number, c: Tensor): Tensor {
  let s: Tensor | null = null;
  for (const { rule, u, dy } of f.uses) {
    const part = reshape(rule.weightedSum ? rule.weightedSum(u, dy, c) : matmul(reshape(c, [1, B]), reshape(rule.grads(u, dy), [B, -1])), f.param.shape);
    s = s ? add(s, part) : part;
  }
  return s ?? zeros(f.param.shape, { dtype: f.param.dtype });
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
function withAnalysis<T>(
  fn: string,
  model: PerExampleModel,
  lossFn: PerExampleLossFn,
  x: Tensor,
  y: Tensor,
  options: PerExampleOptions,
  body: (a: Analysis) => T,
): T {
  const params = [...(options.params ?? model.parameters())];
  for (const p of params) {
    if (!(p instanceof Tensor) || (p.dtype !== 'float32' && p.dtype !== 'float64'))
      throw new TypeError(`${fn}: every parameter must be a float32 or float64 Tensor`);
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
    for (const f of a.fast) grads.set(f.param, fastGrads(f, a.B));
    fallbackGrads(a, grads);
    const ordered = new Map<Tensor, Tensor>();
    for (const p of options.params ?? model.parameters()) ordered.set(p, grads.get(p)!);
    return { losses: detach(a.losses), grads: ordered, fallbackParams: a.slow, plan: describePlan(a.plans, paramNames(model)) };
  });
}

/**
 * Sum over parameters of the squared per-example norms ||g_i||^2, shape [B], and, given one
 * tensor per parameter in `v`, the dot products <g_i, v>, without [B, ...] tensors for fast
 * parameters used by one op whose rule forms them directly (a parameter used several times, and
 * the fallback, materialise theirs: their uses' gradients add before the norm is taken).
 */
function reduceGrads(a: Analysis, v?: Map<Tensor, Tensor>): { normSq: Tensor; dots: Tensor | null } {
  let normSq: Tensor = zeros([a.B], { dtype: a.losses.dtype });
  let dots: Tensor | null = v ? zeros([a.B], { dtype: a.losses.dtype }) : null;
  const materialised = new Map<Tensor, Tensor>();
  for (const f of a.fast) {
    const one = f.uses.length === 1 ? f.uses[0]! : null;
    if (one && one.rule.normSq && (!v || one.rule.dot)) {
      normSq = add(normSq, one.rule.normSq(one.u, one.dy));
      if (v && dots) dots = add(dots, one.rule.dot!(one.u, one.dy, reshape(v.get(f.param)!, one.u.inputs[one.u.at]!.shape)));
    } else if (f.uses.length) {
      materialised.set(f.param, fastGrads(f, a.B));
    }
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
export function clippedGradSum(
  model: PerExampleModel,
  lossFn: PerExampleLossFn,
  x: Tensor,
  y: Tensor,
  maxNorm: number,
  options: PerExampleOptions = {},
): ClippedGradSum {
  if (!(maxNorm > 0)) throw new RangeError(`clippedGradSum: maxNorm must be > 0, got ${maxNorm}`);
  const params = [...(options.params ?? model.parameters())];
  return withAnalysis('clippedGradSum', model, lossFn, x, y, { ...options, params }, (a) => {
    const { norms, cT } = clipFactors(reduceGrads(a).normSq, maxNorm, a.losses.dtype);
    // Fast parameters: sum_i c_i g_i from their ops' inputs and deltas; the rest: one backward pass seeded with c.
    const grads = new Map<Tensor, Tensor>();
    for (const f of a.fast) grads.set(f.param, fastWeightedSum(f, a.B, cT));
    if (a.slow.length) for (const [p, g] of backwardPass([a.losses], [cT], a.slow, false)) grads.set(p, g);
    return {
      losses: detach(a.losses),
      output: detach(a.output),
      norms,
      grads: new Map(params.map((p) => [p, grads.get(p)!] as [Tensor, Tensor])),
    };
  });
}

/**
 * ||g_i|| and the clip factors c_i = C / ||g_i|| where ||g_i|| > C, else 1 (a NaN norm: 1), from
 * the squared norms: on the host in float64 where it reads them synchronously, on the device in
 * the tensors' dtype on a GPU backend (no step waits for a read).
 */
function clipFactors(normSq: Tensor, maxNorm: number, dtype: DType): { norms: Tensor; cT: Tensor } {
  if (onDevice(normSq.storage)) {
    const norms = sqrt(normSq);
    return { norms, cT: cast(where(gt(norms, maxNorm), div(maxNorm, norms), 1), dtype) };
  }
  const sq = normSq.dataSync();
  const c = new Float64Array(sq.length);
  const norms = new Float64Array(sq.length);
  for (let i = 0; i < sq.length; i++) {
    norms[i] = Math.sqrt(sq[i]!);
    c[i] = norms[i]! > maxNorm ? maxNorm / norms[i]! : 1;
  }
  return { norms: tensor(norms, { dtype }), cT: tensor(c, { dtype }) };
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

/** The parameters' names, where the model gives them. */
function paramNames(model: PerExampleModel): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  for (const [name, p] of model.namedParameters?.() ?? []) if (!names.has(p)) names.set(p, name);
  return names;
}

/**
 * Which path each parameter takes for this model, loss and batch, and why: 'fast: matmul rule'
 * (or the rules of each op that uses it), or 'fallback: <reason>' (an op without a per-example
 * rule, a rule that does not fit, or method 'fallback'). Runs one forward pass and one backward pass.
 */
export function perExamplePlan(model: PerExampleModel, lossFn: PerExampleLossFn, x: Tensor, y: Tensor, options: PerExampleOptions = {}): PerExamplePlanEntry[] {
  return withAnalysis('perExamplePlan', model, lossFn, x, y, options, (a) => describePlan(a.plans, paramNames(model)));
}
