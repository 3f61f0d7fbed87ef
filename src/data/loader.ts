/**
 * DataLoader: cuts a dataset into mini-batches, one epoch per iteration.
 *
 * Each `for (const [x, y] of loader)` is one epoch. With shuffle, every epoch draws a NEW
 * permutation of 0..n-1 from the generator, so epochs see different orders while the same seed
 * repeats the whole run. Batch b holds the examples order[b*B .. (b+1)*B). When B does not divide
 * n the last batch holds n mod B examples (kept unless dropLast). A mean loss over that batch
 * averages over ITS OWN size m, so each of its examples weighs 1/m in that step instead of 1/B:
 * the gradient is still an unbiased estimate, only noisier. To weigh every example of the epoch
 * equally, scale that batch's mean loss by m / B (or sum the losses and divide by B), or use dropLast.
 *
 * Memory: by default a batch's tensors are freed when the next batch is requested (or the loop
 * ends), so an epoch holds one batch at a time even in a synchronous loop, where garbage
 * collection never gets to run. Anything computed from the batch (a reshape, a loss) is separate
 * and lives on. Collecting batches (`[...loader]`, pushing them to an array) needs
 * `retainBatches: true`; those tensors are then freed by garbage collection or by the scope the
 * loop runs in.
 */
import type { Generator, RngState } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import { scope, Tensor } from '../core/tensor.js';
import { stack } from '../ops/index.js';
import type { Dataset } from './dataset.js';
import { stackExamples } from './dataset.js';

/** A dataset whose get/getBatch may return promises (read over a network, decoded off-thread...). */
export interface AsyncDataset<T extends Tensor[] = Tensor[]> {
  readonly length: number;
  get(index: number): T | Promise<T>;
  getBatch?(indices: Int32Array): T | Promise<T>;
}

export interface DataLoaderOptions {
  /** Examples per batch (default 1). */
  batchSize?: number;
  /** Draw a new random order each epoch (default false: 0, 1, 2, ...). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Source of the shuffles (default: defaultGenerator). */
  generator?: Generator;
  /** Keep each batch's tensors alive after the next batch is requested (default false). */
  retainBatches?: boolean;
  /**
   * Data parallelism: of the epoch's batches (the same seeded order on every rank), serve only
   * batch b with b mod size = rank, and read only their examples. A communicator can be passed
   * as it is. The loader's length and state stay those of the whole epoch.
   */
  shard?: { readonly rank: number; readonly size: number };
}

/** Everything needed to continue a run with exactly the same orders (JSON-serialisable). */
export interface DataLoaderState {
  /** Epochs started so far. */
  epoch: number;
  /** The generator's state when the state was taken. */
  generator: RngState;
  /** Batches already served in the current epoch (0 between epochs). */
  batch: number;
  /** The generator's state before the current epoch's permutation was drawn (when batch > 0). */
  epochGenerator?: RngState;
}

export class DataLoader<T extends Tensor[] = Tensor[]> {
  readonly dataset: Dataset<T> | AsyncDataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: Generator;
  readonly retainBatches: boolean;
  readonly shard?: { readonly rank: number; readonly size: number };
  private epochCount = 0;
  private served = 0;
  private epochStart: RngState | null = null;
  /** Set by setState when it lands mid-epoch: the next iteration resumes that epoch. */
  private resume: { epochGenerator: RngState; generator: RngState; batch: number } | null = null;

  constructor(dataset: Dataset<T> | AsyncDataset<T>, options: DataLoaderOptions = {}) {
    const { batchSize = 1, shuffle = false, dropLast = false, generator = defaultGenerator, retainBatches = false } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!dataset || !Number.isInteger(dataset.length) || dataset.length < 0) throw new TypeError('DataLoader: dataset must have an integer length and a get(index) method');
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.generator = generator;
    this.retainBatches = retainBatches;
    if (options.shard) {
      const { rank, size } = options.shard;
      if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size)
        throw new RangeError(`DataLoader: shard must be { rank, size } with 0 <= rank < size, got ${JSON.stringify({ rank, size })}`);
      this.shard = { rank, size };
    }
  }

  /** Batches per epoch: ceil(n / B), or floor(n / B) with dropLast. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Epochs started so far. */
  get epoch(): number {
    return this.epochCount;
  }

  getState(): DataLoaderState {
    // Having served every batch of an epoch is the same as being between epochs.
    const served = this.served === this.length ? 0 : this.served;
    const state: DataLoaderState = { epoch: this.epochCount, generator: this.generator.getState(), batch: served };
    if (served > 0 && this.epochStart) state.epochGenerator = [...this.epochStart] as RngState;
    return state;
  }

  /**
   * Restore a state from getState(). Between epochs the next iteration draws the same order the
   * saved run drew next. Mid-epoch (batch > 0) the next iteration redraws that epoch's order, skips
   * the batches already served and restores the generator to where the saved run had it.
   */
  setState(state: DataLoaderState): this {
    if (!state || !Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.batch ?? 0) || (state.batch ?? 0) < 0) {
      throw new TypeError(`DataLoader.setState: expected { epoch, generator, batch } from getState(), got ${JSON.stringify(state)}`);
    }
    const batch = state.batch ?? 0;
    if (batch > this.length) throw new RangeError(`DataLoader.setState: batch ${batch} is beyond the ${this.length} batches of an epoch`);
    this.generator.setState(state.generator);
    this.epochCount = state.epoch;
    this.served = 0;
    this.resume = null;
    if (batch > 0) {
      if (!state.epochGenerator) throw new TypeError('DataLoader.setState: a mid-epoch state (batch > 0) needs epochGenerator');
      // The resumed iteration continues epoch `state.epoch`, which was already counted.
      this.epochCount = state.epoch - 1;
      this.resume = { epochGenerator: state.epochGenerator, generator: state.generator, batch };
    }
    return this;
  }

  /** Start an epoch: its order and the first batch to serve. */
  private beginEpoch(): { order: Int32Array; first: number } {
    const n = this.dataset.length;
    const resume = this.resume;
    this.resume = null;
    if (resume) this.generator.setState(resume.epochGenerator);
    this.epochStart = this.generator.getState();
    let order: Int32Array;
    if (this.shuffle) order = this.generator.permutation(n);
    else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    if (resume) this.generator.setState(resume.generator);
    this.epochCount++;
    this.served = resume ? resume.batch : 0;
    return { order, first: this.served };
  }

  private indicesOf(order: Int32Array, b: number): Int32Array {
    return order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length));
  }

  private free(batch: Tensor[] | null): void {
    if (batch && !this.retainBatches) for (const t of batch) t.dispose();
  }

  /**
   * The one iteration core of both iterators: the epoch's batches in order, with the loader's
   * bookkeeping (checking each batch, freeing the previous one, counting what was served). It asks
   * its driver to fetch each batch ({ fetch }) and hands the batch back ({ batch }) after the
   * bookkeeping; the driver fetches synchronously or awaits, which is all that differs.
   */
  private *core(): Iterator<{ fetch: Int32Array } | { batch: T }, void, T | undefined> {
    const { order, first } = this.beginEpoch();
    let prev: T | null = null;
    try {
      const shard = this.shard ?? { rank: 0, size: 1 };
      for (let b = first; b < this.length; b++) {
        if (b % shard.size !== shard.rank) continue;
        const batch = (yield { fetch: this.indicesOf(order, b) })!;
        checkBatch(batch);
        this.free(prev);
        prev = batch;
        // Sharded: the batches up to this rank's next one are the other ranks' (served by them).
        this.served = Math.min(b + shard.size, this.length);
        // The consumer has the batch until it asks for the next one (then it is freed above).
        yield { batch };
      }
      this.served = 0;
    } finally {
      this.free(prev);
    }
  }

  *[Symbol.iterator](): Iterator<T> {
    const core = this.core();
    try {
      for (let r = core.next(); !r.done; ) {
        const step = r.value;
        if ('fetch' in step) r = core.next(this.fetchSync(step.fetch));
        else {
          yield step.batch;
          r = core.next();
        }
      }
    } finally {
      core.return?.();
    }
  }

  /** The same batches; awaits datasets whose get/getBatch return promises. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const core = this.core();
    try {
      for (let r = core.next(); !r.done; ) {
        const step = r.value;
        if ('fetch' in step) r = core.next(await this.fetchAsync(step.fetch));
        else {
          yield step.batch;
          r = core.next();
        }
      }
    } finally {
      core.return?.();
    }
  }

  private fetchSync(idx: Int32Array): T {
    const ds = this.dataset;
    if (!ds.getBatch) return stackExamples(ds as Dataset<T>, idx);
    return scope(() => {
      const r = ds.getBatch!(idx);
      if (r instanceof Promise) throw new TypeError(ASYNC_MESSAGE);
      return r;
    });
  }

  private async fetchAsync(idx: Int32Array): Promise<T> {
    const ds = this.dataset;
    if (ds.getBatch) return await ds.getBatch(idx);
    return stackParts(await Promise.all(Array.from(idx, (i) => ds.get(i))));
  }
}

const ASYNC_MESSAGE = 'DataLoader: the dataset returned a Promise; iterate with `for await (const batch of loader)`';

function checkBatch(batch: Tensor[]): void {
  if (!Array.isArray(batch) || batch.some((t) => !(t instanceof Tensor))) {
    throw new TypeError('DataLoader: a dataset must return an array of tensors from get/getBatch');
  }
}

/** Stack already-fetched examples, then free them (they belong to the loader alone). */
function stackParts<T extends Tensor[]>(examples: T[]): T {
  const batch = scope(() => examples[0]!.map((_, k) => stack(examples.map((ex) => ex[k]!), 0))) as T;
  for (const ex of examples) for (const t of ex) if (!batch.includes(t)) t.dispose();
  return batch;
}
