/**
 * gradientStatsHook: a fit() step hook that every N updates measures the per-example gradients of
 * the current micro-batch and returns the noise statistics, which fit() writes to metrics.jsonl as
 * { type: 'stats', step, epoch, ...record }. Per-example gradients are not materialised where the
 * layers allow (norms and dot products come from each layer's inputs and output deltas).
 */
import type { PerExampleLossFn, PerExampleModel } from '../autograd/per-example.js';
import { perExampleSummary } from '../autograd/per-example.js';
import { noGrad } from '../core/grad-mode.js';
import { onDevice } from '../core/storage.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { add, mul, sum } from '../ops/index.js';
import type { GradientStats } from './noise-scale.js';
import { NoiseScaleEma, statsFromSums } from './noise-scale.js';

/** What fit() hands a step hook (the trainer's BatchContext plus the step), as far as the hook needs it. */
export interface StatsHookContext {
  model: PerExampleModel;
  /** The trainer's loss: called with { reduction: 'none' } it must give one loss per example. */
  loss: (output: Tensor, target: Tensor) => Tensor;
  x: Tensor;
  y: Tensor;
  params: Tensor[];
  step: number;
  epoch: number;
}

/** The record written to metrics.jsonl (exactly these fields; the report page renders them). */
export interface GradientStatsRecord {
  [key: string]: unknown;
  batch_size: number;
  grad_mean_norm_sq: number;
  trace_cov: number;
  grad_norm_sq_unbiased: number;
  noise_scale: number;
  noise_scale_ema: number;
  per_example_norms: number[];
  cosine_to_mean: number[];
}

export interface GradientStatsHookOptions {
  /** Measure every this many updates (default 10). */
  every?: number;
  /** Decay of the moving averages of tr(Sigma) and |G|^2 (default 0.9). */
  ema?: number;
  /** A per-example loss to use instead of the trainer's (needed when the trainer's ignores { reduction: 'none' }). */
  loss?: PerExampleLossFn;
}

/** The statistics of one batch of a model, without materialising per-example gradients where possible. */
export function batchGradientStats(model: PerExampleModel, loss: PerExampleLossFn, x: Tensor, y: Tensor, params?: readonly Tensor[]): GradientStats {
  return scope(() => {
    const s = perExampleSummary(model, loss, x, y, { params });
    const meanNormSq = noGrad(() => {
      let total = 0;
      for (const g of s.meanGrads.values()) total += sum(mul(g, g)).item();
      return total;
    });
    return statsFromSums(s.normSq.dataSync(), s.dotsWithMean.dataSync(), meanNormSq);
  });
}

/**
 * batchGradientStats for any backend: on a GPU backend the per-example sums are computed on the
 * device and read back asynchronously (all three reads in flight at once); the result is the same.
 */
export async function batchGradientStatsAsync(
  model: PerExampleModel,
  loss: PerExampleLossFn,
  x: Tensor,
  y: Tensor,
  params?: readonly Tensor[],
): Promise<GradientStats> {
  const held = scope(() => {
    const s = perExampleSummary(model, loss, x, y, { params });
    const meanNormSq = noGrad(() => [...s.meanGrads.values()].map((g) => sum(mul(g, g))).reduce((a, q) => add(a, q)));
    return [s.normSq, s.dotsWithMean, meanNormSq].map((t) => keep(t));
  });
  try {
    const [normSq, dots, meanNormSq] = await Promise.all(held.map((t) => t.dataAsync()));
    return statsFromSums(normSq!, dots!, meanNormSq![0]!);
  } finally {
    for (const t of held) t.dispose();
  }
}

export function statsRecord(s: GradientStats, ema: number): GradientStatsRecord {
  return {
    batch_size: s.batchSize,
    grad_mean_norm_sq: s.meanNormSq,
    trace_cov: s.traceCov,
    grad_norm_sq_unbiased: s.gradNormSq,
    noise_scale: s.noiseScale,
    noise_scale_ema: ema,
    per_example_norms: s.perExampleNorms,
    cosine_to_mean: s.cosineToMean,
  };
}

/**
 * A stepHooks entry for fit(): on updates whose number is a multiple of `every` (once per update,
 * whatever the accumulation), it returns the record; otherwise nothing. Batches of one example
 * are skipped (a variance needs two). The measurement runs its own forward pass, so a model with
 * Dropout draws one more set of masks on the steps it measures.
 */
export type GradientStatsHook = ((ctx: StatsHookContext) => GradientStatsRecord | Promise<GradientStatsRecord> | void) & {
  /** The moving averages, for checkpoints (pass the hook in fit's `stateful` to have them saved). */
  stateDict(): unknown;
  loadStateDict(state: unknown): void;
};

export function gradientStatsHook(options: GradientStatsHookOptions = {}): GradientStatsHook {
  const every = options.every ?? 10;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`gradientStatsHook: every must be a positive integer, got ${every}`);
  const smoother = new NoiseScaleEma(options.ema ?? 0.9);
  let lastStep = -1;
  const hook = (ctx: StatsHookContext): GradientStatsRecord | Promise<GradientStatsRecord> | void => {
    if (ctx.step % every !== 0 || ctx.step === lastStep || ctx.x.shape[0]! < 2) return;
    lastStep = ctx.step;
    const loss = options.loss ?? ctx.loss;
    // GPU tensors are read asynchronously: fit awaits the record (in step order, so the averages
    // are updated in the same order as on the CPU)
    if (ctx.params.some((p) => onDevice(p.storage)))
      return batchGradientStatsAsync(ctx.model, loss, ctx.x, ctx.y, ctx.params).then((s) => statsRecord(s, smoother.update(s.traceCov, s.gradNormSq)));
    const s = batchGradientStats(ctx.model, loss, ctx.x, ctx.y, ctx.params);
    return statsRecord(s, smoother.update(s.traceCov, s.gradNormSq));
  };
  return Object.assign(hook, {
    stateDict: () => ({ ema: smoother.stateDict(), lastStep }),
    loadStateDict: (state: unknown) => {
      const st = state as { ema: Parameters<NoiseScaleEma['loadStateDict']>[0]; lastStep: number } | null;
      if (!st || !Number.isInteger(st.lastStep))
        throw new TypeError(`gradientStatsHook.loadStateDict: expected { ema, lastStep }, got ${JSON.stringify(state)}`);
      smoother.loadStateDict(st.ema);
      lastStep = st.lastStep;
    },
  });
}
