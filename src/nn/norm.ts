/**
 * Normalisation layers: BatchNorm1d / BatchNorm2d (statistics over the batch), LayerNorm
 * (over each example's last axes) and GroupNorm (over groups of channels of each example).
 * Channels are axis 1 (NCHW / NCL / NC), as PyTorch.
 */
import { noGrad } from '../core/grad-mode.js';
import { shapeSize, shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add, detach, div, full, mean, mul, ones, reshape, rsqrt, scalar, sqrt, sub, zeros } from '../ops/index.js';
import { Module } from './module.js';

type FloatDType = 'float32' | 'float64';

/** (x - m) / sqrt(v + eps) with m and v the mean and biased variance over `axes` (kept). */
function normalise(x: Tensor, axes: number[], eps: number): { xhat: Tensor; m: Tensor; v: Tensor } {
  const m = mean(x, axes, true);
  const dx = sub(x, m);
  const v = mean(mul(dx, dx), axes, true);
  return { xhat: div(dx, sqrt(add(v, eps))), m, v };
}

export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running averages (default 0.1); null: a cumulative average (weight 1/numBatchesTracked). */
  momentum?: number | null;
  /** Learn a scale (init 1) and shift (init 0) per channel (default true). */
  affine?: boolean;
  /** Keep running mean and variance for eval mode (default true); false: batch statistics in eval mode too. */
  trackRunningStats?: boolean;
  dtype?: FloatDType;
}

const LEGACY_KEYS = { runningMean: 'running_mean', runningVar: 'running_var', numBatchesTracked: 'num_batches_tracked' } as const;

/**
 * Batch normalisation (Ioffe & Szegedy 2015), PyTorch's definition. For each channel c, over the
 * batch and spatial positions (n values):
 *   training:  y = (x - mean_B) / sqrt(var_B + eps) * weight + bias, var_B the BIASED variance
 *              (divide by n); then runningMean = (1 - momentum) runningMean + momentum mean_B and
 *              runningVar = (1 - momentum) runningVar + momentum var_B n / (n - 1) (UNBIASED), and
 *              numBatchesTracked += 1.
 *   eval:      y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias.
 * The buffers runningMean (init 0), runningVar (init 1) and numBatchesTracked (int32, init 0) are in
 * the state dict under PyTorch's keys running_mean, running_var and num_batches_tracked (which
 * safetensors files store as I64, as PyTorch does); loadStateDict also accepts the camelCase keys
 * earlier Descent checkpoints used. Because each output depends on the whole batch in training,
 * the layer mixes examples: per-example gradients are not defined for it (`mixesExamples`).
 */
export abstract class BatchNormBase extends Module {
  readonly mixesExamples = true;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;

  protected abstract readonly ranks: readonly number[];

  constructor(
    readonly numFeatures: number,
    options: BatchNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1)
      throw new RangeError(`${this.constructor.name}: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1))
      throw new RangeError(`${this.constructor.name}: momentum must be in [0, 1] or null, got ${this.momentum}`);
    const dtype = options.dtype ?? 'float32';
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures], { dtype })) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], { dtype })) : null;
    if (options.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures], { dtype }));
      this.runningVar = this.registerBuffer('running_var', ones([numFeatures], { dtype }));
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', scalar(0, 'int32'));
    } else {
      this.runningMean = this.runningVar = this.numBatchesTracked = null;
    }
  }

  /** Keys of earlier Descent checkpoints (before the buffers took PyTorch's names). */
  protected override legacyStateKeys(): Readonly<Record<string, string>> {
    return LEGACY_KEYS;
  }

  forward(x: Tensor): Tensor {
    const name = this.constructor.name;
    if (!this.ranks.includes(x.rank) || x.shape[1] !== this.numFeatures) {
      throw new RangeError(
        `${name}: expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels on axis 1, got shape ${shapeStr(x.shape)}`,
      );
    }
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const perChannel = x.shape.map((dim, i) => (i === 1 ? dim : 1));
    const n = x.size / this.numFeatures;
    // The per-channel factors are folded before they meet the big tensor: y = (x - m) * (w / s) + b
    // rather than ((x - m) / s) * w + b, two passes over x (and their gradients) fewer. Equal to
    // the definition up to float rounding.
    const w = this.weight ? reshape(this.weight, perChannel) : null,
      b = this.bias ? reshape(this.bias, perChannel) : null;
    if (this.training || this.runningMean === null) {
      if (this.training && n <= 1) throw new RangeError(`${name}: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
      const m = mean(x, axes, true);
      const dx = sub(x, m);
      const v = mean(mul(dx, dx), axes, true);
      if (this.training && this.runningMean !== null) this.updateRunningStats(m, v, n);
      const inv = rsqrt(add(v, this.eps));
      const y = mul(dx, w ? mul(inv, w) : inv);
      return b ? add(y, b) : y;
    }
    // eval: y = x * scale + shift with scale = w / sqrt(runningVar + eps), shift = b - runningMean * scale
    const scale = div(w ?? 1, sqrt(add(reshape(this.runningVar!, perChannel), this.eps)));
    const shift = sub(b ?? 0, mul(reshape(this.runningMean, perChannel), scale));
    return add(mul(x, scale), shift);
  }

  protected updateRunningStats(m: Tensor, v: Tensor, n: number): void {
    noGrad(() => {
      const count = this.numBatchesTracked!;
      count.assign(add(count, 1));
      const f = this.momentum ?? 1 / count.item();
      const bm = reshape(detach(m), [this.numFeatures]);
      const bv = mul(reshape(detach(v), [this.numFeatures]), n / (n - 1)); // biased to unbiased
      const rm = this.runningMean!,
        rv = this.runningVar!;
      rm.assign(add(mul(rm, 1 - f), mul(bm, f)));
      rv.assign(add(mul(rv, 1 - f), mul(bv, f)));
    });
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/** Batch normalisation of [N, C] or [N, C, L] inputs, per channel C. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly ranks = [2, 3];
}

/** Batch normalisation of NCHW images [N, C, H, W], per channel C (over N, H and W). */
export class BatchNorm2d extends BatchNormBase {
  protected readonly ranks = [4];
}

export interface LayerNormOptions {
  eps?: number;
  /** Learn a scale (init 1) and, when `bias`, a shift (init 0) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  bias?: boolean;
  dtype?: FloatDType;
}

/**
 * Layer normalisation (Ba et al. 2016): each example is normalised over its last
 * normalizedShape.length axes, y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased
 * variance. Statistics are per example, so the layer is the same in training and eval.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((v) => !Number.isInteger(v) || v < 1))
      throw new RangeError(`LayerNorm: normalizedShape must be positive integers, got ${JSON.stringify(normalizedShape)}`);
    this.eps = options.eps ?? 1e-5;
    const dtype = options.dtype ?? 'float32';
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones(this.normalizedShape, { dtype })) : null;
    this.bias = affine && (options.bias ?? true) ? this.registerParameter('bias', zeros(this.normalizedShape, { dtype })) : null;
  }

  forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    if (x.rank < k || x.shape.slice(x.rank - k).some((v, i) => v !== this.normalizedShape[i])) {
      throw new RangeError(`LayerNorm: expected input ending in ${shapeStr(this.normalizedShape)}, got shape ${shapeStr(x.shape)}`);
    }
    let y = normalise(
      x,
      Array.from({ length: k }, (_, i) => x.rank - k + i),
      this.eps,
    ).xhat;
    if (this.weight) y = mul(y, this.weight);
    if (this.bias) y = add(y, this.bias);
    return y;
  }

  protected override extraRepr(): string {
    return `${shapeStr(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}

export interface GroupNormOptions {
  eps?: number;
  /** Learn a scale (init 1) and shift (init 0) per channel (default true). */
  affine?: boolean;
  dtype?: FloatDType;
}

/**
 * Group normalisation (Wu & He 2018): the C channels of each example are split into numGroups
 * groups of C / numGroups consecutive channels, and each group is normalised over its channels and
 * positions (biased variance); then a per-channel scale and shift. Input [N, C, ...].
 */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    options: GroupNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || !Number.isInteger(numChannels) || numChannels % numGroups !== 0) {
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    }
    this.eps = options.eps ?? 1e-5;
    const dtype = options.dtype ?? 'float32';
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', full([numChannels], 1, { dtype })) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numChannels], { dtype })) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numChannels)
      throw new RangeError(`GroupNorm: expected input [N, ${this.numChannels}, ...], got shape ${shapeStr(x.shape)}`);
    const n = x.shape[0]!;
    const grouped = reshape(x, [n, this.numGroups, shapeSize(x.shape) / (n * this.numGroups)]);
    let y = reshape(normalise(grouped, [2], this.eps).xhat, x.shape);
    if (this.weight) {
      const perChannel = x.shape.map((dim, i) => (i === 1 ? dim : 1));
      y = add(mul(y, reshape(this.weight, perChannel)), reshape(this.bias!, perChannel));
    }
    return y;
  }

  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}
