import type { DType, TypedArray } from './dtype.js';
import { isFloat } from './dtype.js';
import type { Shape } from './shape.js';
import { shapeSize, shapeStr, shapesEqual } from './shape.js';
import type { Storage } from './storage.js';
import { noteTensor } from './storage.js';

/** How a tensor was made, for reverse-mode differentiation: the op, its inputs and its backward rule. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The op's attributes (ops/types.ts OpAttrs[op]), for rules that read the recorded graph (per-example gradients). */
  readonly attrs?: unknown;
  /** One gradient per input (null where there is none), given the gradient of the output. */
  backward(gradOut: Tensor, needs: readonly boolean[]): (Tensor | null)[];
}

export type NestedArray = number | NestedArray[];

let nextId = 1;

/** A dense, row-major n-dimensional array of float32, float64 or int32 elements. */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  /** The op that produced this tensor, while it is part of a graph being differentiated. */
  node: GradNode | null = null;
  /** Greater than 0 while a grad call differentiates with respect to this tensor. */
  tracked = 0;
  /** Holder of the storage, shared with the finalizer (which must not reference the tensor). */
  /** @internal */
  readonly ref: StorageRef;

  constructor(storage: Storage, shape: Shape) {
    const size = shapeSize(shape);
    if (size !== storage.size) throw new RangeError(`Tensor: shape ${shapeStr(shape)} has ${size} elements but the storage holds ${storage.size}`);
    this.shape = Object.freeze([...shape]);
    this.dtype = storage.dtype;
    this.size = size;
    this.ref = { storage };
    storage.refs++;
    noteTensor(1);
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get storage(): Storage {
    const s = this.ref.storage;
    if (s === null) {
      throw new Error(
        `Tensor ${shapeStr(this.shape)} ${this.dtype} was freed: the scope that created it has ended. Return it from the scope (or pass it to keep()) to use it afterwards.`,
      );
    }
    return s;
  }

  get isDisposed(): boolean {
    return this.ref.storage === null;
  }

  /** True while this tensor takes part in differentiation (tracked input or recorded result). */
  get requiresGrad(): boolean {
    return this.tracked > 0 || this.node !== null;
  }

  /** The elements, row-major, as a typed array view (do not keep it across allocations). */
  get data(): TypedArray {
    return this.storage.data;
  }

  /** A copy of the elements as a fresh typed array. */
  dataSync(): TypedArray {
    return this.storage.data.slice();
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: expected a tensor with one element, got shape ${shapeStr(this.shape)}`);
    return this.storage.data[0]!;
  }

  /**
   * A copy of the elements, on every backend; the way to read a tensor that lives in GPU memory
   * (webgpu), where `data`, `dataSync()`, `item()` and `toArray()` throw.
   */
  async dataAsync(): Promise<TypedArray> {
    const s = this.storage;
    return s.read ? s.read() : s.data.slice();
  }

  /** The value of a one-element tensor, on every backend (see dataAsync). */
  async itemAsync(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`itemAsync: expected a tensor with one element, got shape ${shapeStr(this.shape)}`);
    return (await this.dataAsync())[0]!;
  }

  /** The elements as nested arrays, on every backend (see dataAsync). */
  async toArrayAsync(): Promise<NestedArray> {
    return nest(await this.dataAsync(), this.shape);
  }

  /** The elements as nested arrays (a number for a scalar). */
  toArray(): NestedArray {
    return nest(this.storage.data, this.shape);
  }

  /** Replace this tensor's contents with `value`'s (same shape and dtype), keeping its identity. */
  assign(value: Tensor): this {
    if (!shapesEqual(value.shape, this.shape) || value.dtype !== this.dtype) {
      throw new RangeError(`assign: expected ${shapeStr(this.shape)} ${this.dtype}, got ${shapeStr(value.shape)} ${value.dtype}`);
    }
    const s = value.storage;
    if (s === this.ref.storage) return this;
    s.refs++;
    this.releaseStorage();
    this.ref.storage = s;
    return this;
  }

  /** Free the storage now. Ordinary code never needs this: scopes and garbage collection do it. */
  dispose(): void {
    if (this.ref.storage === null) return;
    finalizer.unregister(this);
    this.releaseStorage();
    this.ref.storage = null;
    this.node = null;
    noteTensor(-1);
  }

  private releaseStorage(): void {
    const s = this.ref.storage;
    if (s !== null && --s.refs === 0) s.release();
  }

  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return formatTensor(this);
  }
}

/** Row-major elements as nested arrays of `shape` (a number for a scalar). */
function nest(d: ArrayLike<number>, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return d[0]!;
  const build = (dim: number, off: number): NestedArray[] => {
    const n = shape[dim]!;
    const out: NestedArray[] = new Array(n);
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = d[off + i]!;
    } else {
      const inner = shapeSize(shape.slice(dim + 1));
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, off + i * inner);
    }
    return out;
  };
  return build(0, 0);
}

function formatNumber(v: number, dtype: DType): string {
  if (!isFloat(dtype)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.`;
  if (!Number.isFinite(v)) return String(v).replace('Infinity', 'inf');
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e8) ? v.toExponential(4) : String(Number(v.toPrecision(dtype === 'float64' ? 8 : 5)));
}

/** PyTorch-like printing: tensor([[1., 2.], [3., 4.]], shape=[2, 2], dtype=float32), summarised when large. */
export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return `tensor(<freed>, shape=${shapeStr(t.shape)}, dtype=${t.dtype})`;
  const d = t.data;
  const edge = 3;
  const summarise = t.size > 1000;
  const rec = (dim: number, off: number, indent: string): string => {
    if (t.shape.length === 0) return formatNumber(d[0]!, t.dtype);
    const n = t.shape[dim]!;
    const inner = shapeSize(t.shape.slice(dim + 1));
    const idx = summarise && n > 2 * edge ? [...Array(edge).keys(), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)] : [...Array(n).keys()];
    if (dim === t.shape.length - 1) {
      return '[' + idx.map((i) => (i < 0 ? '...' : formatNumber(d[off + i]!, t.dtype))).join(', ') + ']';
    }
    const sep = ',\n' + indent + ' ';
    return '[' + idx.map((i) => (i < 0 ? '...' : rec(dim + 1, off + i * inner, indent + ' '))).join(sep) + ']';
  };
  return `tensor(${rec(0, 0, '       ')}, shape=${shapeStr(t.shape)}, dtype=${t.dtype})`;
}

// ---------------------------------------------------------------------------------------------
// Scopes: how intermediates are freed without the user calling dispose.
// Every tensor created while a scope is open belongs to it. When the scope ends, the tensors it
// returns move to the enclosing scope (or, at top level, to garbage collection); the rest are
// freed. Outside any scope, a FinalizationRegistry frees a tensor once it is unreachable.
// ---------------------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];
export interface StorageRef {
  storage: Storage | null;
}

const finalizer = new FinalizationRegistry<StorageRef>((ref) => {
  const s = ref.storage;
  if (s === null) return;
  ref.storage = null;
  noteTensor(-1);
  if (--s.refs === 0) s.release();
});

function track(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
  else finalizer.register(t, t.ref, t);
}

function release(t: Tensor): void {
  const parent = scopes[scopes.length - 1];
  if (parent) parent.add(t);
  else if (!t.isDisposed) finalizer.register(t, t.ref, t);
}

/** Every tensor reachable from a value through arrays, plain objects, Maps and Sets. */
export function collectTensors(value: unknown, into = new Set<Tensor>()): Set<Tensor> {
  const stack: unknown[] = [value];
  const seen = new Set<unknown>();
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Tensor) into.add(v);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) stack.push(...v);
    else if (ArrayBuffer.isView(v)) continue;
    else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) stack.push(...Object.values(v));
  }
  return into;
}

/**
 * Run fn and free every tensor it created except those it returns. Synchronous only: a scope
 * cannot span an await. `handOver` (used by nested differentiation) keeps everything alive for
 * the enclosing scope instead of freeing.
 */
export function scope<T>(fn: () => T, handOver = false): T {
  const mine = new Set<Tensor>();
  scopes.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of mine) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of mine) release(t);
    throw new TypeError('scope: the function returned a Promise; scopes are synchronous, so await outside the scope and open one per step');
  }
  const keepSet = handOver ? mine : collectTensors(result);
  for (const t of mine) {
    if (keepSet.has(t)) release(t);
    else t.dispose();
  }
  return result;
}

/** Take a tensor out of every scope so it lives on (parameters, optimizer state). Returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) {
    if (s.delete(t)) {
      if (!t.isDisposed) finalizer.register(t, t.ref, t);
      break;
    }
  }
  return t;
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
