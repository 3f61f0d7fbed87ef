/**
 * Gradient statistics of one batch (McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model
 * of Large-Batch Training", section 2 and appendix A).
 *
 * Each example i of a batch of B has its own gradient g_i. Think of the g_i as draws from a
 * distribution with mean G (the true gradient, over all the data) and covariance Sigma. Then:
 *   G_hat = (1/B) sum_i g_i                        the batch gradient (what SGD steps along)
 *   E|G_hat|^2 = |G|^2 + tr(Sigma) / B             averaging B draws divides the noise by B
 *   trSigma_hat = (sum_i |g_i|^2 - B |G_hat|^2) / (B - 1)
 *                = (1/(B-1)) sum_i |g_i - G_hat|^2  the unbiased sample variance, summed over coordinates
 *   |G|^2_hat = |G_hat|^2 - trSigma_hat / B        unbiased, from the identity above
 *   B_simple = tr(Sigma) / |G|^2                    the "simple noise scale"
 * B_simple is the batch size at which the noise in G_hat is as large as the signal: a batch much
 * smaller than it takes noisy steps (more steps are needed), a batch much larger spends examples
 * on precision the step cannot use. The ratio of two noisy estimates is biased and jumpy, so the
 * paper averages numerator and denominator separately over steps (NoiseScaleEma).
 */
import type { Tensor } from '../core/tensor.js';

export interface GradientStats {
  batchSize: number;
  /** |G_hat|^2: squared norm of the batch-mean gradient. */
  meanNormSq: number;
  /** Unbiased estimate of tr(Sigma), the summed per-coordinate variance of one example's gradient. */
  traceCov: number;
  /** Unbiased estimate of |G|^2, the squared norm of the true gradient (can come out negative when noise dominates). */
  gradNormSq: number;
  /** B_simple = traceCov / gradNormSq (this batch alone). */
  noiseScale: number;
  /** ||g_i|| for every example. */
  perExampleNorms: number[];
  /** cos(g_i, G_hat) = <g_i, G_hat> / (||g_i|| ||G_hat||) for every example (NaN for a zero gradient). */
  cosineToMean: number[];
}

/**
 * The statistics from sums alone: each ||g_i||^2, each <g_i, G_hat> and |G_hat|^2 (what
 * perExampleSummary computes without materialising per-example gradients).
 */
export function statsFromSums(normSq: ArrayLike<number>, dotsWithMean: ArrayLike<number>, meanNormSq: number): GradientStats {
  const B = normSq.length;
  if (B < 2) throw new RangeError(`gradientStats: the variance needs at least 2 examples, got a batch of ${B}`);
  if (dotsWithMean.length !== B) throw new RangeError(`gradientStats: ${B} norms but ${dotsWithMean.length} dot products`);
  let sumSq = 0;
  for (let i = 0; i < B; i++) sumSq += normSq[i]!;
  const traceCov = (sumSq - B * meanNormSq) / (B - 1);
  const gradNormSq = meanNormSq - traceCov / B;
  const meanNorm = Math.sqrt(meanNormSq);
  const perExampleNorms = Array.from(normSq, (v) => Math.sqrt(Math.max(v, 0)));
  const cosineToMean = Array.from(dotsWithMean, (dot, i) => dot / (perExampleNorms[i]! * meanNorm));
  return { batchSize: B, meanNormSq, traceCov, gradNormSq, noiseScale: traceCov / gradNormSq, perExampleNorms, cosineToMean };
}

/** The statistics of per-example gradient vectors given as plain arrays (g_i = vectors[i]). */
export function gradientStatsOfVectors(vectors: readonly (readonly number[])[]): GradientStats {
  const B = vectors.length;
  const n = vectors[0]?.length ?? 0;
  const mean = new Float64Array(n);
  for (const v of vectors) {
    if (v.length !== n) throw new RangeError(`gradientStats: every gradient needs ${n} entries, got one with ${v.length}`);
    for (let k = 0; k < n; k++) mean[k]! += v[k]! / B;
  }
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[k]! * b[k]!;
    return s;
  };
  return statsFromSums(
    vectors.map((v) => dot(v, v)),
    vectors.map((v) => dot(v, mean)),
    dot(mean, mean),
  );
}

/** The statistics of materialised per-example gradients: each tensor [B, ...param.shape] (perExampleGrads' output). */
export function gradientStats(perExample: Map<Tensor, Tensor> | readonly Tensor[]): GradientStats {
  const gs = [...(perExample instanceof Map ? perExample.values() : perExample)];
  const B = gs[0]?.shape[0] ?? 0;
  const vectors: number[][] = Array.from({ length: B }, () => []);
  for (const g of gs) {
    if (g.shape[0] !== B) throw new RangeError(`gradientStats: every per-example gradient needs batch size ${B} first, got shape [${g.shape.join(', ')}]`);
    const d = g.data;
    const per = g.size / B;
    for (let i = 0; i < B; i++) for (let k = 0; k < per; k++) vectors[i]!.push(d[i * per + k]!);
  }
  return gradientStatsOfVectors(vectors);
}

/**
 * B_simple smoothed across steps: exponential moving averages of tr(Sigma) and |G|^2, kept
 * separately, and their ratio (the paper's recommendation: a ratio of averages, not an average of
 * ratios, which a step with |G|^2 near 0 would wreck). Both averages start at 0 and would need the
 * same bias correction 1 - decay^t, which cancels in the ratio, so none is applied.
 */
export class NoiseScaleEma {
  private traceCov = 0;
  private gradNormSq = 0;
  steps = 0;

  constructor(readonly decay = 0.9) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`NoiseScaleEma: decay must be in [0, 1), got ${decay}`);
  }

  /** Add one step's estimates; returns the smoothed noise scale. */
  update(traceCov: number, gradNormSq: number): number {
    if (Number.isFinite(traceCov) && Number.isFinite(gradNormSq)) {
      this.traceCov = this.decay * this.traceCov + (1 - this.decay) * traceCov;
      this.gradNormSq = this.decay * this.gradNormSq + (1 - this.decay) * gradNormSq;
      this.steps++;
    }
    return this.value;
  }

  /** The averages so far (for checkpoints: a resumed run goes on smoothing where it stopped). */
  stateDict(): { traceCov: number; gradNormSq: number; steps: number } {
    return { traceCov: this.traceCov, gradNormSq: this.gradNormSq, steps: this.steps };
  }

  loadStateDict(s: { traceCov: number; gradNormSq: number; steps: number }): void {
    if (!s || !Number.isFinite(s.traceCov) || !Number.isFinite(s.gradNormSq) || !Number.isInteger(s.steps) || s.steps < 0) {
      throw new TypeError(`NoiseScaleEma.loadStateDict: expected { traceCov, gradNormSq, steps } from stateDict(), got ${JSON.stringify(s)}`);
    }
    ({ traceCov: this.traceCov, gradNormSq: this.gradNormSq, steps: this.steps } = s);
  }

  /** The smoothed B_simple (NaN before the first update). */
  get value(): number {
    return this.steps === 0 ? NaN : this.traceCov / this.gradNormSq;
  }
}

/** Plain-words advice about a batch size given the (smoothed) noise scale. */
export function batchSizeAdvice(noiseScale: number, batchSize?: number): string {
  if (!Number.isFinite(noiseScale) || noiseScale <= 0) {
    return 'gradient noise scale: not yet measurable (the noise in the per-example gradients swamps the estimate of the true gradient); average over more steps or use larger batches.';
  }
  const n = noiseScale >= 10 ? Math.round(noiseScale).toLocaleString('en-US') : noiseScale.toPrecision(2);
  let text = `gradient noise scale ~ ${n}: batches well below it waste steps, well above it waste examples.`;
  if (batchSize !== undefined) {
    const r = batchSize / noiseScale;
    text +=
      r < 0.25
        ? ` Your batch of ${batchSize} is well below it: each step is mostly noise, so larger batches would need fewer steps (at little extra cost in examples).`
        : r > 4
          ? ` Your batch of ${batchSize} is well above it: smaller batches would reach the same loss with fewer examples.`
          : ` Your batch of ${batchSize} is near it, a good balance of steps and examples.`;
  }
  return text;
}
