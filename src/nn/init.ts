/**
 * Weight initialisers, with PyTorch's formulas (torch.nn.init).
 *
 * Convention: every initialiser FILLS the tensor it is given and returns that same tensor, like
 * PyTorch's in-place `nn.init.*_`. The new values arrive through `assign`, so the tensor keeps its
 * identity (and stays registered, kept, and a key of any optimizer state). To make a fresh one,
 * fill a new tensor: `init.kaimingUniform(d.zeros([out, in]))`. Random draws come from
 * `options.generator` (default: the global generator that manualSeed seeds).
 */
import { isFloat } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import { scope } from '../core/tensor.js';
import type { Tensor } from '../core/tensor.js';
import { full, randn, uniform as uniformOp } from '../ops/index.js';

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';
export type FanMode = 'fanIn' | 'fanOut';

export interface InitOptions {
  generator?: Generator;
}

/**
 * The gain that keeps the variance of activations steady through the nonlinearity (PyTorch's
 * calculate_gain): 1 for linear and sigmoid, 5/3 for tanh, sqrt 2 for relu,
 * sqrt(2 / (1 + slope^2)) for leakyRelu (slope = param, default 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unknown nonlinearity ${JSON.stringify(nonlinearity)} (expected linear, sigmoid, tanh, relu, leakyRelu or selu)`);
  }
}

/**
 * fan_in and fan_out of a weight of shape [out, in, ...kernel]: each output unit sums
 * in * prod(kernel) inputs, each input feeds out * prod(kernel) outputs (PyTorch's
 * _calculate_fan_in_and_fan_out). Needs at least two dimensions.
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new RangeError(`computeFans: fan in and fan out need a tensor with at least 2 dimensions, got shape ${shapeStr(shape)}`);
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!;
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function requireFloat(fn: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new TypeError(`init.${fn}: expects a float32 or float64 tensor, got ${t.dtype} ${shapeStr(t.shape)}`);
}

/** Replace t's values with those of make() (made in a scope, so nothing else is left behind). */
function fill(t: Tensor, make: () => Tensor): Tensor {
  scope(() => {
    t.assign(make());
  });
  return t;
}

/** Fill with a constant. */
export function constant(t: Tensor, value: number): Tensor {
  return fill(t, () => full(t.shape, value, { dtype: t.dtype }));
}

export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/** Fill with draws from U(a, b). */
export function uniform(t: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  requireFloat('uniform', t);
  if (!(b >= a)) throw new RangeError(`init.uniform: need a <= b, got a=${a}, b=${b}`);
  return fill(t, () => uniformOp(t.shape, a, b, { dtype: t.dtype, generator: options.generator ?? defaultGenerator }));
}

/** Fill with draws from N(mean, std^2). */
export function normal(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  requireFloat('normal', t);
  if (!(std >= 0)) throw new RangeError(`init.normal: std must be >= 0, got ${std}`);
  return fill(t, () => randn(t.shape, { dtype: t.dtype, mean, std, generator: options.generator ?? defaultGenerator }));
}

/**
 * Glorot & Bengio (2010): U(-a, a) with a = gain sqrt(6 / (fanIn + fanOut)), so the variance
 * a^2 / 3 = gain^2 2 / (fanIn + fanOut) balances the forward and backward passes.
 */
export function xavierUniform(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = computeFans(t.shape);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a, options);
}

/** Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = computeFans(t.shape);
  return normal(t, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (only used with nonlinearity 'leakyRelu'); default 0. */
  a?: number;
  /** 'fanIn' (default) keeps the forward variance, 'fanOut' the backward one. */
  mode?: FanMode;
  /** Default 'leakyRelu' (with a = 0 that is sqrt 2, the ReLU gain), as PyTorch. */
  nonlinearity?: Nonlinearity;
}

/** std = gain / sqrt(fan) for He et al. (2015). */
function kaimingStd(fn: string, t: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = computeFans(t.shape);
  const mode = options.mode ?? 'fanIn';
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new RangeError(`init.${fn}: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  const fan = mode === 'fanIn' ? fanIn : fanOut;
  const gain = calculateGain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0);
  return fan === 0 ? 0 : gain / Math.sqrt(fan);
}

/** He uniform: U(-bound, bound) with bound = sqrt(3) std, std = gain / sqrt(fan). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', t, options);
  return uniform(t, -bound, bound, options);
}

/** He normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd('kaimingNormal', t, options), options);
}

/**
 * LeCun normal: N(0, 1 / fanIn), the variance-preserving scale for linear units and SELU. Not
 * truncated (JAX and Keras truncate at 2 std and rescale; PyTorch has no lecun_normal).
 */
export function lecunNormal(t: Tensor, options: InitOptions = {}): Tensor {
  const { fanIn } = computeFans(t.shape);
  return normal(t, 0, fanIn === 0 ? 0 : 1 / Math.sqrt(fanIn), options);
}
