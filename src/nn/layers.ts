/** Basic layers: Linear (the affine map), Dropout, Dropout2d, AlphaDropout, Flatten and Unflatten. */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add, flatten, linear, lt, mul, reshape, sub, uniform, zeros } from '../ops/index.js';
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

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    for (const [what, n] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
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

  constructor(
    readonly p = 0.5,
    options: { generator?: Generator } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (this.p === 1) return mul(x, 0);
    if (x.dtype !== 'float32' && x.dtype !== 'float64')
      throw new TypeError(`Dropout: expects a float32 or float64 tensor, got ${x.dtype} ${shapeStr(x.shape)}`);
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
  constructor(
    readonly startAxis = 1,
    readonly endAxis = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis, this.endAxis);
  }
  protected override extraRepr(): string {
    return `startAxis=${this.startAxis}, endAxis=${this.endAxis}`;
  }
}

function checkP(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name}: p must be in [0, 1], got ${p}`);
}

/**
 * Channel dropout (PyTorch's Dropout2d): in training each whole channel x[n, c, ...] is kept with
 * probability 1 - p (and scaled by 1 / (1 - p)) or zeroed, one draw per (n, c). Neighbouring
 * pixels of a feature map are strongly correlated, so dropping single pixels regularises little;
 * dropping channels does. Input [N, C, ...] with rank >= 3; the identity in eval mode.
 */
export class Dropout2d extends Module {
  private readonly generator: Generator;

  constructor(
    readonly p = 0.5,
    options: { generator?: Generator } = {},
  ) {
    super();
    checkP('Dropout2d', p);
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (x.rank < 3) throw new RangeError(`Dropout2d: expects [N, C, H, W] (rank >= 3), got shape ${shapeStr(x.shape)}`);
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`Dropout2d: expects a float32 or float64 tensor, got ${x.dtype}`);
    if (this.p === 1) return mul(x, 0);
    const maskShape = x.shape.map((dim, i) => (i < 2 ? dim : 1));
    const u = uniform(maskShape, 0, 1, { dtype: x.dtype, generator: this.generator });
    return mul(x, mul(lt(u, 1 - this.p), 1 / (1 - this.p)));
  }

  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** -scale * alpha of SELU: the value SELU tends to for very negative inputs. */
const SELU_NEG_SATURATION = 1.7580993408473766;

/**
 * Alpha dropout (Klambauer et al. 2017), for self-normalising (SELU) networks: dropped units are set
 * to SELU's negative saturation -alpha' (alpha' = 1.7581) instead of 0, then an affine map a y + b
 * restores mean 0 and variance 1 for unit-normal inputs: with keep mask m (kept with probability
 * q = 1 - p), a = ((alpha'^2 p + 1) q)^(-1/2) and y = a (x m - alpha' (1 - m)) + a alpha' p
 * (PyTorch's formula). The identity in eval mode.
 */
export class AlphaDropout extends Module {
  private readonly generator: Generator;

  constructor(
    readonly p = 0.5,
    options: { generator?: Generator } = {},
  ) {
    super();
    checkP('AlphaDropout', p);
    this.generator = options.generator ?? defaultGenerator;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TypeError(`AlphaDropout: expects a float32 or float64 tensor, got ${x.dtype}`);
    if (this.p === 1) return mul(x, 0); // as PyTorch: everything dropped gives zeros
    const alpha = SELU_NEG_SATURATION,
      p = this.p;
    const a = 1 / Math.sqrt((alpha * alpha * p + 1) * (1 - p));
    const keep = lt(uniform(x.shape, 0, 1, { dtype: x.dtype, generator: this.generator }), 1 - p);
    // a x m + alpha a (m - 1) + alpha a p
    return add(add(mul(x, mul(keep, a)), mul(sub(keep, 1), alpha * a)), alpha * a * p);
  }

  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Split one axis into several (PyTorch's nn.Unflatten): [N, 784] to [N, 1, 28, 28] with Unflatten(1, [1, 28, 28]). */
export class Unflatten extends Module {
  constructor(
    readonly axis: number,
    readonly sizes: readonly number[],
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    const a = this.axis < 0 ? this.axis + x.rank : this.axis;
    if (a < 0 || a >= x.rank) throw new RangeError(`Unflatten: axis ${this.axis} is out of range for input ${shapeStr(x.shape)}`);
    const n = this.sizes.reduce((s, v) => s * v, 1);
    if (n !== x.shape[a])
      throw new RangeError(
        `Unflatten: sizes [${this.sizes.join(', ')}] (${n} elements) do not fill axis ${this.axis} of size ${x.shape[a]} in ${shapeStr(x.shape)}`,
      );
    return reshape(x, [...x.shape.slice(0, a), ...this.sizes, ...x.shape.slice(a + 1)]);
  }
  protected override extraRepr(): string {
    return `axis=${this.axis}, sizes=[${this.sizes.join(', ')}]`;
  }
}
