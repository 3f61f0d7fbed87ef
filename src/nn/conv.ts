/** Conv2d: the learned 2-D convolution layer (NCHW: input [N, C, H, W], output [N, O, OH, OW]). */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import type { Conv2dOptions, Pair } from '../ops/index.js';
import { conv2d, toPair, zeros } from '../ops/index.js';
import * as init from './init.js';
import { Module } from './module.js';

export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Add a learned bias per output channel (default true). */
  bias?: boolean;
  dtype?: 'float32' | 'float64';
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * out[n, o] = bias[o] + sum_c weight[o, c] * x[n, c] (cross-correlation over the spatial axes; see
 * ops conv2d for stride, padding, dilation and groups). weight is [outChannels, inChannels / groups,
 * kh, kw] (PyTorch's layout).
 *
 * Initialisation is PyTorch's default: weight by kaimingUniform with a = sqrt 5, which is
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = (inChannels / groups) kh kw; then the bias from the
 * same range. Weight first, then bias, from the same generator.
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  /** stride, padding, dilation and groups, with their defaults filled in. */
  readonly options: Readonly<Conv2dOptions>;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    for (const [what, n] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
      ['groups', groups],
    ] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`Conv2d: ${what} must be a positive integer, got ${n}`);
    }
    if (inChannels % groups !== 0 || outChannels % groups !== 0)
      throw new RangeError(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must both be divisible by groups (${groups})`);
    this.kernelSize = toPair('Conv2d', 'kernelSize', kernelSize, 1);
    this.options = { stride: options.stride ?? 1, padding: options.padding ?? 0, dilation: options.dilation ?? 1, groups };
    const dtype = options.dtype ?? 'float32';
    const generator = options.generator ?? defaultGenerator;
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter(
      'weight',
      init.kaimingUniform(zeros([outChannels, inChannels / groups, kh, kw], { dtype }), { a: Math.sqrt(5), generator }),
    );
    if (options.bias ?? true) {
      const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
      this.bias = this.registerParameter('bias', init.uniform(zeros([outChannels], { dtype }), -bound, bound, { generator }));
    } else {
      this.bias = null;
    }
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(`Conv2d: expected input [N, ${this.inChannels}, H, W] (NCHW), got shape ${shapeStr(x.shape)}`);
    }
    return conv2d(x, this.weight, this.bias, this.options);
  }

  protected override extraRepr(): string {
    const o = this.options;
    const extra = [`stride=${JSON.stringify(o.stride)}`, `padding=${JSON.stringify(o.padding)}`];
    if (o.dilation !== 1) extra.push(`dilation=${JSON.stringify(o.dilation)}`);
    if (o.groups !== 1) extra.push(`groups=${o.groups}`);
    if (this.bias === null) extra.push('bias=false');
    return `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}], ${extra.join(', ')}`;
  }
}
