/**
 * How noisy is a mini-batch gradient, and how does the batch size set it?
 *
 * Take the N training points as "all the data": their mean gradient is G = (1/N) sum_i g_i, and
 * the spread of single-example gradients around it is sigma^2 = (1/N) sum_i |g_i - G|^2 (the
 * trace of their covariance). A batch of B points drawn WITHOUT replacement (as a shuffled epoch
 * cuts them) gives G_B = (1/B) sum_{i in batch} g_i, whose expected squared error is exactly
 *   E |G_B - G|^2 = sigma^2 / B * (N - B) / (N - 1),
 * the sampling-without-replacement law: 1/B for small batches, and 0 for the full batch (which IS
 * G). measureOne checks it on thousands of batches per size, as an epoch of training cuts them.
 */
import * as d from 'descent';
import { rowMean } from './linalg.js';
import type { Problem, Sequential } from './setup.js';
import { flatGrads, lossOf, perExampleRows } from './setup.js';

export interface PoolNoise {
  /** Training points. */
  N: number;
  /** sigma^2: the mean squared distance of one example's gradient from G. */
  sigma2: number;
  /** |G|^2: the squared length of the full-batch gradient. */
  gradNormSq: number;
  /** B_simple = sigma^2 / |G|^2: the batch size at which the noise of G_B is as large as G itself. */
  noiseScale: number;
}

export interface VariancePoint {
  B: number;
  /** The mean of |G_B - G|^2 over `batches` batches. */
  measured: number;
  /** Its standard error (from the spread between independent shuffles). */
  standardError: number;
  batches: number;
  /** sigma^2 / B * (N - B) / (N - 1). */
  exact: number;
  /** sigma^2 / B: what sampling WITH replacement would give. */
  withReplacement: number;
  /** Batches whose mean-of-examples gradient was also computed by autodiff, and the largest relative difference found. */
  autodiffChecked: number;
  autodiffDifference: number;
}

/** E|G_B - G|^2 for a batch of B out of N drawn without replacement. */
export function exactVariance(sigma2: number, N: number, B: number): number {
  return N <= 1 ? 0 : ((sigma2 / B) * (N - B)) / (N - 1);
}

/** The per-example gradients of every training point (N rows of P), their mean G and the noise figures. */
export interface Pool extends PoolNoise {
  G: Float64Array;
  rows: Float64Array;
  P: number;
}

export function poolNoise(model: Sequential, problem: Problem): Pool {
  return d.scope(() => {
    const params = model.parameters();
    const N = problem.xTrain.shape[0]!;
    const P = params.reduce((s, p) => s + p.size, 0);
    const pe = d.perExampleGrads(model, lossOf(problem.config), problem.xTrain, problem.yTrain);
    const rows = perExampleRows(params, pe.grads, N);
    const G = rowMean(rows, N, P);
    let s = 0;
    for (let i = 0; i < N; i++)
      for (let k = 0; k < P; k++) {
        const e = rows[i * P + k]! - G[k]!;
        s += e * e;
      }
    const sigma2 = s / N;
    let gg = 0;
    for (const v of G) gg += v * v;
    return { N, sigma2, gradNormSq: gg, noiseScale: sigma2 / gg, G, rows, P };
  });
}

/** The batch sizes measured: powers of two up to N/2, and N/2 itself. */
export function measuredSizes(N: number): number[] {
  const half = Math.floor(N / 2);
  const out: number[] = [];
  for (let b = 1; b < half; b *= 2) out.push(b);
  if (half >= 1) out.push(half);
  return out;
}

/** The batch gradient G_B as the mean of its examples' per-example gradients. */
function batchMean(pool: Pool, idx: ArrayLike<number>): Float64Array {
  const { rows, P } = pool;
  const g = new Float64Array(P);
  for (let j = 0; j < idx.length; j++) {
    const off = idx[j]! * P;
    for (let k = 0; k < P; k++) g[k]! += rows[off + k]!;
  }
  for (let k = 0; k < P; k++) g[k]! /= idx.length;
  return g;
}

/** The gradient of the batch's mean loss by autodiff, as training computes it. */
export function autodiffBatchGradient(model: Sequential, problem: Problem, idx: Int32Array): Float64Array {
  return d.scope(() => {
    const params = model.parameters();
    const it = d.tensor(idx, { dtype: 'int32' });
    const x = d.indexSelect(problem.xTrain, 0, it),
      y = d.indexSelect(problem.yTrain, 0, it);
    return flatGrads(
      params,
      d.grad(() => lossOf(problem.config)(model.forward(x), y), params),
    );
  });
}

function sqDist(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const e = a[k]! - b[k]!;
    s += e * e;
  }
  return s;
}

/**
 * Measure E|G_B - G|^2 for one batch size: shuffle the training points, cut the shuffle into
 * floor(N/B) batches (each a uniformly random set of B points, as in an epoch of training), and
 * repeat with new shuffles until at least `minBatches` batches are measured. Each batch's
 * gradient is the mean of its examples' gradients, which is the gradient autodiff gives for the
 * batch's mean loss: `autodiff` recomputes the first `checks` batches that way and the largest
 * relative difference is reported.
 */
export function measureOne(
  pool: Pool,
  B: number,
  minBatches: number,
  gen: d.Generator,
  autodiff?: (idx: Int32Array) => Float64Array,
  checks = 4,
): VariancePoint {
  const N = pool.N;
  const per = Math.floor(N / B);
  const shuffles = Math.max(2, Math.ceil(minBatches / per));
  const means: number[] = [];
  let checked = 0,
    worst = 0;
  for (let s = 0; s < shuffles; s++) {
    const order = gen.permutation(N);
    let sum = 0;
    for (let b = 0; b < per; b++) {
      const idx = order.subarray(b * B, (b + 1) * B);
      const g = batchMean(pool, idx);
      if (autodiff && checked < checks) {
        const a = autodiff(idx);
        worst = Math.max(worst, Math.sqrt(sqDist(g, a) / sqDist(a, new Float64Array(a.length))));
        checked++;
      }
      sum += sqDist(g, pool.G);
    }
    means.push(sum / per);
  }
  const measured = means.reduce((a, v) => a + v, 0) / shuffles;
  const sd = Math.sqrt(means.reduce((a, v) => a + (v - measured) ** 2, 0) / (shuffles - 1));
  return {
    B,
    measured,
    standardError: sd / Math.sqrt(shuffles),
    batches: shuffles * per,
    exact: exactVariance(pool.sigma2, N, B),
    withReplacement: pool.sigma2 / B,
    autodiffChecked: checked,
    autodiffDifference: worst,
  };
}
