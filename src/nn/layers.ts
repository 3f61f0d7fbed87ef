/** Basic layers: Linear (the affine map), Dropout and Flatten. */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { flatten, linear, lt, mul, uniform, zeros } from '../ops/index.js';
import * as init from './init.js';
import { Module } from './module.js';

export interface LinearOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
  dtype?: 'float32' | 'float64';
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * y = x W^T + b with W of shape [outFeatures, inFeatures] (PyTorch's layout) and b of shape
 * [outFeatures]. Any leading axes of x are batch axes.
 *
 * Initialisation is PyTorch's default: W by kaimingUniform with a = sqrt 5, whose gain
 * sqrt(2 / (1 + 5)) = 1/sqrt 3 gives bound sqrt 3 / (sqrt 3 sqrt inFeatures), that is
 * W ~ U(-1/sqrt(in), 1/sqrt(in)); then b ~ U(-1/sqrt(in), 1/sqrt(in)). Weight first, then bias,
 * from the same generator.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    for (const [what, n] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`Linear: ${what} must be a non-negative integer, got ${n}`);
    }
    const dtype = options.dtype ?? 'float32';
    const generator = options.generator ?? defaultGenerator;
    this.weight = this.registerParameter('weight', init.kaimingUniform(zeros([outFeatures, inFeatures], { dtype }), { a: Math.sqrt(5), generator }));
    if (options.bias ?? true) {
      const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
      this.bias = this.registerParameter('bias', init.uniform(zeros([outFeatures], { dtype }), -bound, bound, { generator }));
    } else {
      this.bias = null;
    }
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new RangeError(`Linear: expected input with last dimension ${this.inFeatures} (inFeatures), got shape ${shapeStr(x.shape)}`);
    }
    return linear(x, this.weight, this.bias ?? undefined);
  }

  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Inverted dropout. In training each element is kept with probability 1 - p and scaled by
 * 1 / (1 - p), else zeroed, so E[output] = (1 - p) x / (1 - p) = x and evaluation needs no
 * rescaling: in eval mode (and for p = 0) the layer is the identity. The mask is drawn from the
 * generator (seeded, reproducible) and is a constant for differentiation, so the gradient is the
 * same mask times the upstream gradient.
 */
export class Dropout extends Module {
  private readonly generator: Generator;

  constructor(readonly p = 0.5, options: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (this.p === 1) return mul(x, 0);
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`Dropout: expects a float32 or float64 tensor, got ${x.dtype} ${shapeStr(x.shape)}`);
    // u ~ U[0, 1) per element; u < 1 - p has probability exactly 1 - p.
    const u = uniform(x.shape, 0, 1, { dtype: x.dtype, generator: this.generator });
    return mul(x, mul(lt(u, 1 - this.p), 1 / (1 - this.p)));
  }

  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Merge axes startAxis..endAxis into one (default: all but the batch axis, as PyTorch's nn.Flatten). */
export class Flatten extends Module {
  constructor(readonly startAxis = 1, readonly endAxis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis, this.endAxis);
  }
  protected override extraRepr(): string {
    return `startAxis=${this.startAxis}, endAxis=${this.endAxis}`;
  }
}
