/**
 * DP-SGD (Abadi et al. 2016): differentially private mini-batch gradients. Each example's own
 * gradient g_i is clipped to norm at most C (g_i min(1, C / ||g_i||)), so no single example can
 * move the weights by more than C / B; the clipped gradients are summed, Gaussian noise of
 * standard deviation sigma C is added to every coordinate, and the sum is divided by B:
 *   g = (1/B) (sum_i clip_C(g_i) + N(0, (sigma C)^2 I))
 * The clipped sum is formed without materialising per-example gradients (clippedGradSum: the
 * norms from each layer's inputs and deltas, then one backward pass weighted by the clip factors).
 * The noise comes from the ziggurat sampler (gaussian.ts), exact and several times faster than
 * Box-Muller, because a step needs one normal sample per parameter.
 */
import type { PerExampleLossFn, PerExampleModel } from '../autograd/per-example.js';
import { clippedGradSum } from '../autograd/per-example.js';
import { noGrad } from '../core/grad-mode.js';
import { onDevice } from '../core/storage.js';
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { add, argmax, cast, div, eq, mean, sum } from '../ops/index.js';
import { gaussianTensor } from './gaussian.js';
import { dpSgdEpsilon } from './privacy.js';

export interface DpSgdOptions {
  /** C: the largest norm a per-example gradient may have after clipping. */
  maxGradNorm: number;
  /** sigma: the noise standard deviation in units of C (0: clipping only, no privacy). */
  noiseMultiplier: number;
  /** Generator for the noise (default: the global one). */
  generator?: Generator;
  /** A per-example loss to use instead of the trainer's (needed when the trainer's ignores { reduction: 'none' }). */
  loss?: PerExampleLossFn;
}

/** What fit() hands computeGrads (its BatchContext), as far as DP-SGD needs it. */
export interface DpSgdContext {
  model: PerExampleModel;
  loss: (output: Tensor, target: Tensor) => Tensor;
  x: Tensor;
  y: Tensor;
  params: Tensor[];
}

export interface DpSgdResult {
  /** The mean loss of the batch (before any update): a number, or on a GPU backend a one-element tensor (fit reads it asynchronously). */
  loss: number | Tensor;
  /** (sum of clipped per-example gradients + noise) / B, for every parameter. */
  grads: Map<Tensor, Tensor>;
  /** Correct predictions, for integer class labels (a number, or a one-element tensor on a GPU backend). */
  correct?: number | Tensor;
}

/** A one-element tensor as a number where the host reads it synchronously; left on the device otherwise. */
const figure = (t: Tensor): number | Tensor => (onDevice(t.storage) ? t : t.item());

function countCorrect(output: Tensor, target: Tensor): number | Tensor | undefined {
  if (target.dtype !== 'int32' || output.rank !== 2 || target.rank !== 1) return undefined;
  return figure(noGrad(() => sum(cast(eq(argmax(output, 1), target), 'int32'))));
}

/** A computeGrads function for fit() that makes DP-SGD gradients from each batch. */
export function dpSgdGradients(options: DpSgdOptions): (ctx: DpSgdContext) => DpSgdResult {
  const { maxGradNorm: C, noiseMultiplier: sigma } = options;
  if (!(C > 0)) throw new RangeError(`dpSgdGradients: maxGradNorm must be > 0, got ${C}`);
  if (!(sigma >= 0)) throw new RangeError(`dpSgdGradients: noiseMultiplier must be >= 0, got ${sigma}`);
  const generator = options.generator ?? defaultGenerator;
  return (ctx) => {
    const B = ctx.x.shape[0]!;
    const loss = options.loss ?? ctx.loss;
    const r = clippedGradSum(ctx.model, loss, ctx.x, ctx.y, C, { params: ctx.params });
    // (clipped sum + sigma C z) / B: the noise is drawn straight into a tensor's storage, then two
    // elementwise ops on the backend (a JS loop over half a million numbers cost as much as them
    // and the copy of its result together, three times over).
    const grads = new Map<Tensor, Tensor>();
    noGrad(() => {
      for (const p of ctx.params) {
        const sumG = r.grads.get(p)!;
        let total = sumG;
        if (sigma > 0) total = add(sumG, gaussianTensor(p.shape, p.dtype as 'float32' | 'float64', sigma * C, generator));
        grads.set(p, div(total, B));
      }
    });
    return { loss: figure(noGrad(() => mean(r.losses))), grads, correct: countCorrect(r.output, ctx.y) };
  };
}

/**
 * DP-SGD over several ranks (data parallelism): each rank's computeGrads clips per example with no
 * noise (dpSgdGradients with noiseMultiplier 0), the allreduce averages the clipped gradients over
 * the global batch B, and this transformGrads adds the noise once per global step:
 *   g = (1/B) sum_i clip_C(g_i) + N(0, (sigma C)^2 I) / B,
 * the same update as one process with the whole batch. Every rank draws the same noise: its
 * generator starts from the same seed on every rank and is advanced alike.
 */
export function dpSgdNoise(options: { maxGradNorm: number; noiseMultiplier: number; generator: Generator }) {
  const { maxGradNorm: C, noiseMultiplier: sigma, generator } = options;
  return (grads: Map<Tensor, Tensor>, info: { examples: number }): Map<Tensor, Tensor> => {
    if (!(sigma > 0)) return grads;
    return noGrad(
      () =>
        new Map([...grads].map(([p, g]) => [p, add(g, div(gaussianTensor(p.shape, p.dtype as 'float32' | 'float64', sigma * C, generator), info.examples))])),
    );
  };
}

export interface DpSgdMetadataOptions {
  maxGradNorm: number;
  noiseMultiplier: number;
  batchSize: number;
  /** Examples in the training set (the sample rate is batchSize / datasetSize). */
  datasetSize: number;
  /** Updates made (or planned). */
  steps: number;
  /** delta of (epsilon, delta)-DP (default: a power of ten at least 10x below 1/datasetSize). */
  delta?: number;
}

export interface DpSgdMetadata {
  mechanism: string;
  max_grad_norm: number;
  noise_multiplier: number;
  batch_size: number;
  dataset_size: number;
  sample_rate: number;
  steps: number;
  delta: number;
  /** null when no noise was added (no privacy guarantee). */
  epsilon: number | null;
  accountant: string;
}

/**
 * The privacy parameters a DP-SGD run was made with, for the run's metadata, and the epsilon it
 * spent at the given delta by the RDP accountant (privacy.ts). delta (roughly, the chance that the
 * guarantee fails) must be well below 1/N, or leaking one example outright would fit within it;
 * by default it is the power of ten at least ten times below 1/N (1e-5 for N = 6,000).
 */
export function dpSgdMetadata(o: DpSgdMetadataOptions): DpSgdMetadata {
  if (!(o.datasetSize > 0) || !(o.batchSize > 0) || o.batchSize > o.datasetSize) {
    throw new RangeError(`dpSgdMetadata: need 0 < batchSize <= datasetSize, got batchSize ${o.batchSize}, datasetSize ${o.datasetSize}`);
  }
  const q = o.batchSize / o.datasetSize;
  const delta = o.delta ?? Number(`1e${Math.floor(Math.log10(1 / o.datasetSize) + 1e-9) - 1}`); // 1e-5 exactly, not 10 ** -5
  const epsilon = o.noiseMultiplier > 0 ? dpSgdEpsilon(q, o.noiseMultiplier, o.steps, delta).epsilon : null;
  return {
    mechanism: 'DP-SGD: per-example gradients clipped to max_grad_norm, Gaussian noise of std noise_multiplier * max_grad_norm added to their sum',
    max_grad_norm: o.maxGradNorm,
    noise_multiplier: o.noiseMultiplier,
    batch_size: o.batchSize,
    dataset_size: o.datasetSize,
    sample_rate: q,
    steps: o.steps,
    delta,
    epsilon,
    accountant:
      epsilon === null
        ? 'none: no noise was added, so there is no privacy guarantee (epsilon is infinite)'
        : 'RDP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019), integer orders 2..256, assuming Poisson sampling at sample_rate',
  };
}
