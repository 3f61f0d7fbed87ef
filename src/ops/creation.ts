/** Making tensors: from values, constant fills, ranges, and seeded random draws. */
import { getBackend } from '../backend/index.js';
import type { DType, TypedArray } from '../core/dtype.js';
import { checkDType, dtypeOfArray } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Shape } from '../core/shape.js';
import { checkShape, shapeSize, shapeStr } from '../core/shape.js';
import type { NestedArray } from '../core/tensor.js';
import { Tensor } from '../core/tensor.js';

export interface DTypeOption {
  dtype?: DType;
}
export interface RandomOptions extends DTypeOption {
  /** Generator to draw from (default: the global one seeded by manualSeed). */
  generator?: Generator;
}

/**
 * A tensor whose elements `fill` writes straight into the backend's fresh storage (every element:
 * the storage's contents are unspecified before): a large dataset decoded from bytes is then
 * written once, with no intermediate array. Not public API.
 */
export function tensorFromFill(shape: Shape, dtype: DType, fill: (d: TypedArray) => void): Tensor {
  return make('tensorFromFill', shape, dtype, fill);
}

function make(op: string, shape: Shape, dtype: DType, fill?: (d: TypedArray) => void): Tensor {
  const sh = checkShape(op, shape);
  const s = getBackend().alloc(checkDType(op, dtype), shapeSize(sh));
  if (fill) fill(s.data);
  return new Tensor(s, sh);
}

function inferShape(values: NestedArray | readonly NestedArray[]): number[] {
  const shape: number[] = [];
  let v: unknown = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * A tensor from nested arrays, a typed array (give `shape`, or it is 1-D), or a number. The dtype is
 * the typed array's, else float32 (pass dtype: 'int32' for labels).
 */
export function tensor(values: NestedArray | readonly NestedArray[] | TypedArray, options: DTypeOption & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(values)) {
    const arr = values as TypedArray;
    const dtype = options.dtype ?? dtypeOfArray(arr) ?? 'float32';
    const shape = options.shape ?? [arr.length];
    if (shapeSize(shape) !== arr.length)
      throw new RangeError(`tensor: shape ${shapeStr(shape)} needs ${shapeSize(shape)} values, the typed array has ${arr.length}`);
    return make('tensor', shape, dtype, (d) => d.set(arr));
  }
  const shape = inferShape(values);
  const dtype = options.dtype ?? 'float32';
  const flat: number[] = [];
  // Walk iteratively, checking that every sub-array has the length the first one set.
  const stack: [unknown, number, string][] = [[values, 0, '']];
  while (stack.length) {
    const [v, depth, path] = stack.pop()!;
    if (depth === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean')
        throw new TypeError(`tensor: expected a number at ${path || 'top level'}, got ${Array.isArray(v) ? 'an array (ragged nesting)' : typeof v}`);
      flat.push(Number(v));
      continue;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new RangeError(
        `tensor: ragged nested array: expected length ${shape[depth]} at ${path || 'top level'}, got ${Array.isArray(v) ? v.length : typeof v}`,
      );
    }
    for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], depth + 1, `${path}[${i}]`]);
  }
  if (options.shape && shapeSize(options.shape) === flat.length) return make('tensor', options.shape, dtype, (d) => d.set(flat));
  return make('tensor', shape, dtype, (d) => d.set(flat));
}

/** A 0-dimensional tensor. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return make('scalar', [], dtype, (d) => (d[0] = value));
}

export function full(shape: Shape, value: number, options: DTypeOption = {}): Tensor {
  return make('full', shape, options.dtype ?? 'float32', (d) => d.fill(value));
}
export function zeros(shape: Shape, options: DTypeOption = {}): Tensor {
  return make('zeros', shape, options.dtype ?? 'float32');
}
export function ones(shape: Shape, options: DTypeOption = {}): Tensor {
  return full(shape, 1, options);
}
export function zerosLike(t: Tensor, options: DTypeOption = {}): Tensor {
  return zeros(t.shape, { dtype: options.dtype ?? t.dtype });
}
export function onesLike(t: Tensor, options: DTypeOption = {}): Tensor {
  return ones(t.shape, { dtype: options.dtype ?? t.dtype });
}
export function fullLike(t: Tensor, value: number, options: DTypeOption = {}): Tensor {
  return full(t.shape, value, { dtype: options.dtype ?? t.dtype });
}

/** Values start, start+step, ... below end (like torch.arange). arange(n) is 0..n-1. */
export function arange(start: number, end?: number, step = 1, options: DTypeOption = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = options.dtype ?? (Number.isInteger(start) && Number.isInteger(step) ? 'int32' : 'float32');
  return make('arange', [n], dtype, (d) => {
    for (let i = 0; i < n; i++) d[i] = start + i * step;
  });
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, options: DTypeOption = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  return make('linspace', [steps], options.dtype ?? 'float32', (d) => {
    const h = steps > 1 ? (end - start) / (steps - 1) : 0;
    for (let i = 0; i < steps; i++) d[i] = i === steps - 1 && steps > 1 ? end : start + i * h;
  });
}

/** The n x m identity (m defaults to n). */
export function eye(n: number, m = n, options: DTypeOption = {}): Tensor {
  return make('eye', [n, m], options.dtype ?? 'float32', (d) => {
    for (let i = 0; i < Math.min(n, m); i++) d[i * m + i] = 1;
  });
}

function floatDType(op: string, dtype: DType | undefined): 'float32' | 'float64' {
  const d = dtype ?? 'float32';
  if (d !== 'float32' && d !== 'float64') throw new TypeError(`${op}: dtype must be float32 or float64, got ${d}`);
  return d;
}

/** Uniform in [low, high) from the seeded generator. */
export function uniform(shape: Shape, low = 0, high = 1, options: RandomOptions = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  return make('uniform', shape, floatDType('uniform', options.dtype), (d) => g.fillUniform(d as Float32Array | Float64Array, low, high));
}

/** Uniform in [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  return uniform(shape, 0, 1, options);
}

/** Normal with the given mean and standard deviation (default standard normal). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  return make('randn', shape, floatDType('randn', options.dtype), (d) => g.fillNormal(d as Float32Array | Float64Array, options.mean ?? 0, options.std ?? 1));
}

/** Integers uniform in [low, high), int32 by default. */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new RangeError(`randint: need integers low < high, got low=${low}, high=${high}`);
  const g = options.generator ?? defaultGenerator;
  return make('randint', shape, options.dtype ?? 'int32', (d) => {
    for (let i = 0; i < d.length; i++) d[i] = low + g.nextInt(high - low);
  });
}

/** A random permutation of 0..n-1 (int32). */
export function permutation(n: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`permutation: n must be a non-negative integer, got ${n}`);
  const g = options.generator ?? defaultGenerator;
  const p = g.permutation(n);
  return make('permutation', [n], 'int32', (d) => d.set(p));
}
