/**
 * Datasets: indexable collections of examples. An example is a tuple of tensors WITHOUT a batch
 * axis (for an image classifier: [x of shape [784], y of shape []]); a batch is the same tuple with
 * the examples stacked along a new first axis ([x [B, 784], y [B]]).
 */
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { shapeStr } from '../core/shape.js';
import { onDevice } from '../core/storage.js';
import { keep, scope, Tensor } from '../core/tensor.js';
import { indexSelect, tensor, zeros } from '../ops/index.js';

export interface Dataset<T extends Tensor[] = Tensor[]> {
  /** Number of examples. */
  readonly length: number;
  /** Example `index` (0 <= index < length), each tensor without a batch axis. */
  get(index: number): T;
  /**
   * Optional fast path: the examples at `indices`, stacked along a new first axis. Both methods
   * return NEW Tensor objects that the caller owns (a DataLoader frees each batch when it moves
   * on); a view such as a reshape of a stored tensor is fine, the stored tensor itself is not.
   */
  getBatch?(indices: Int32Array): T;
}

/** Throws unless index is an integer in [0, length). */
export function checkIndex(who: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${who}: index ${index} is out of range for a dataset of ${length} examples`);
  }
}

/**
 * Tensors sharing their first dimension; example i is the i-th slice of each (like
 * torch.utils.data.TensorDataset). The tensors are kept (they outlive any scope they were made in).
 */
export class TensorDataset implements Dataset<Tensor[]> {
  readonly tensors: readonly Tensor[];
  readonly length: number;

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new RangeError('TensorDataset: needs at least one tensor');
    for (const t of tensors) {
      if (!(t instanceof Tensor)) throw new TypeError(`TensorDataset: every argument must be a Tensor, got ${typeof t}`);
      if (t.rank === 0) throw new RangeError('TensorDataset: tensors need a first (example) dimension, got a scalar of shape []');
    }
    const n = tensors[0]!.shape[0]!;
    if (tensors.some((t) => t.shape[0] !== n)) {
      throw new RangeError(`TensorDataset: all tensors must share the first dimension, got shapes ${tensors.map((t) => shapeStr(t.shape)).join(', ')}`);
    }
    this.tensors = tensors.map((t) => keep(t));
    this.length = n;
  }

  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => {
      const rest = t.shape.slice(1);
      const inner = t.size / this.length;
      // Copy the slice out at once: t.data is a view that must not be kept across allocations.
      const values = t.data.slice(index * inner, (index + 1) * inner);
      return tensor(values, { shape: rest, dtype: t.dtype });
    });
  }

  /** One indexSelect per tensor: no per-example loop. */
  getBatch(indices: Int32Array): Tensor[] {
    for (let i = 0; i < indices.length; i++) checkIndex('TensorDataset.getBatch', indices[i]!, this.length);
    return scope(() => {
      const idx = tensor(indices, { dtype: 'int32' });
      return this.tensors.map((t) => (t.dtype === 'int32' && onDevice(t.storage) ? (hostRows(t, indices) ?? indexSelect(t, 0, idx)) : indexSelect(t, 0, idx)));
    });
  }
}

/**
 * Integer columns (class labels) of a GPU backend's dataset still held on the host are gathered
 * there: the batch's labels stay readable on the host, where the losses check them (as PyTorch
 * checks CPU targets), and go to the GPU with the batch's first kernel. Undefined when the column
 * lives in GPU memory only.
 */
function hostRows(t: Tensor, indices: Int32Array): Tensor | undefined {
  let src: Int32Array;
  try {
    src = t.data as Int32Array;
  } catch {
    return undefined;
  }
  const row = t.shape[0] ? t.size / t.shape[0] : 0;
  const out = new Int32Array(indices.length * row);
  for (let i = 0; i < indices.length; i++) out.set(src.subarray(indices[i]! * row, (indices[i]! + 1) * row), i * row);
  return tensor(out, { shape: [indices.length, ...t.shape.slice(1)], dtype: 'int32' });
}

/** The examples of `dataset` at `indices`, in that order (like torch.utils.data.Subset). */
export class Subset<T extends Tensor[] = Tensor[]> implements Dataset<T> {
  readonly dataset: Dataset<T>;
  readonly indices: Int32Array;
  readonly length: number;

  constructor(dataset: Dataset<T>, indices: ArrayLike<number>) {
    this.dataset = dataset;
    this.indices = Int32Array.from(indices);
    for (let i = 0; i < this.indices.length; i++) {
      const v = indices[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= dataset.length) {
        throw new RangeError(`Subset: index ${v} (position ${i}) is out of range for a dataset of ${dataset.length} examples`);
      }
    }
    this.length = this.indices.length;
  }

  get(index: number): T {
    checkIndex('Subset.get', index, this.length);
    return this.dataset.get(this.indices[index]!);
  }

  getBatch(indices: Int32Array): T {
    const mapped = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      checkIndex('Subset.getBatch', indices[i]!, this.length);
      mapped[i] = this.indices[indices[i]!]!;
    }
    if (this.dataset.getBatch) return this.dataset.getBatch(mapped);
    return stackExamples(this.dataset, mapped);
  }
}

/**
 * Stack examples fetched one by one with get() along a new first axis. The per-example tensors are
 * freed at once; only the batch survives.
 */
export function stackExamples<T extends Tensor[]>(dataset: Dataset<T>, indices: Int32Array): T {
  if (indices.length === 0) throw new RangeError('stackExamples: needs at least one index');
  return scope(() => {
    const examples = Array.from(indices, (i) => {
      const ex = dataset.get(i);
      if ((ex as unknown) instanceof Promise) throw new TypeError('stackExamples: dataset.get returned a Promise; iterate the DataLoader with `for await`');
      return ex;
    });
    const arity = examples[0]!.length;
    const out: Tensor[] = [];
    for (let k = 0; k < arity; k++) {
      const first = examples[0]![k]!;
      // Copy into one buffer (one allocation) rather than concatenating B unsqueezed views.
      const inner = first.size;
      const t = zeros([indices.length, ...first.shape], { dtype: first.dtype });
      const d = t.data;
      examples.forEach((ex, b) => {
        const x = ex[k];
        if (!x || x.dtype !== first.dtype || x.shape.length !== first.shape.length || x.shape.some((s, j) => s !== first.shape[j])) {
          throw new RangeError(`stackExamples: example ${indices[b]} part ${k} is ${x ? `${shapeStr(x.shape)} ${x.dtype}` : 'missing'}, expected ${shapeStr(first.shape)} ${first.dtype} like the first example`);
        }
        d.set(x.data, b * inner);
      });
      out.push(t);
    }
    return out as T;
  });
}

export interface SplitOptions {
  generator?: Generator;
}

/**
 * Split into non-overlapping random subsets (like torch.utils.data.random_split). `lengths` are
 * counts summing to dataset.length, or fractions summing to 1: then each gets floor(f * n) and the
 * remainder is handed out one by one, round-robin from the first subset (PyTorch's rule).
 */
export function randomSplit<T extends Tensor[]>(dataset: Dataset<T>, lengths: readonly number[], options: SplitOptions = {}): Subset<T>[] {
  const n = dataset.length;
  let counts = [...lengths];
  const total = counts.reduce((a, b) => a + b, 0);
  if (counts.some((v) => !(v >= 0))) throw new RangeError(`randomSplit: lengths must be non-negative, got [${lengths.join(', ')}]`);
  if (Math.abs(total - 1) < 1e-9 && counts.some((v) => !Number.isInteger(v))) {
    counts = counts.map((f) => Math.floor(f * n));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]!++;
  } else if (counts.some((v) => !Number.isInteger(v)) || total !== n) {
    throw new RangeError(`randomSplit: lengths [${lengths.join(', ')}] must be integers summing to the dataset length ${n}, or fractions summing to 1`);
  }
  const perm = (options.generator ?? defaultGenerator).permutation(n);
  const out: Subset<T>[] = [];
  let at = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.subarray(at, at + c)));
    at += c;
  }
  return out;
}

