/**
 * Data parallelism for fit(): N processes (ranks) train one model as one process would with
 * N-fold gradient accumulation, following PyTorch DDP's conventions.
 *
 * The loader's epoch is the same seeded order of batches on every rank; rank r trains batch b
 * when b mod N = r (the loader's `shard`). With `accumulate` A per rank, one update is made of the
 * group of N*A consecutive batches g*N*A .. (g+1)*N*A - 1, whose mean-loss gradient is
 *
 *     grad = (sum over the group's batches i of n_i * grad_i) / (sum_i n_i),
 *
 * where grad_i is batch i's mean-loss gradient and n_i its size: the gradient of the mean loss
 * over every example of the group, so an uneven last batch still weighs each example once. Each
 * rank sums n_i * grad_i over its own batches of the group, one allreduce over a flat buffer of
 * all parameters adds the ranks' sums (and their example counts), and every rank divides by the
 * global count: the same arithmetic, in the same order for two ranks, as one process with
 * `accumulate` N*A, so two ranks give bit-identical weights. A group of one batch takes that
 * batch's gradient as it is, as the single process does.
 *
 * Random numbers drawn by the forward pass (dropout masks, from the default generator) are the
 * ones the single process would draw for the same batch: each rank advances the generator past
 * the other ranks' batches, by the number of draws its own batches take per example (measured
 * once with a forward pass that changes nothing).
 */
import type { Communicator } from '../distributed/communicator.js';
import { differsAcrossRanks, hash32, hashBytes } from '../distributed/communicator.js';
import { noGrad } from '../core/grad-mode.js';
import type { RngState } from '../core/random.js';
import { defaultGenerator, Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { keep } from '../core/tensor.js';
import { add, clone, div, mul, tensor, zeros } from '../ops/index.js';
import type { EpochProgress } from './checkpoint-format.js';
import type { EvalResult } from './evaluate.js';
import type { Metric } from './metrics.js';
import { MetricSums } from './metrics.js';
import type { BatchLoader, TrainableModel } from './types.js';

/** What data parallelism reads from the training loader besides BatchLoader (DataLoader has it all). */
interface ShardedLoader extends BatchLoader {
  readonly shard?: { readonly rank: number; readonly size: number };
  readonly batchSize?: number;
  readonly dataset?: { readonly length: number };
}

/** The reduced gradient of one update group, or why there is none. */
export interface Reduced {
  /** The mean-loss gradient over the whole group, on every rank alike. */
  grads: Map<Tensor, Tensor>;
  /** Some rank's loss was not finite in this group. */
  badLoss: boolean;
  /** Examples the gradient averages, over every rank. */
  examples: number;
  /** The group's mean loss over every rank's examples. */
  loss: number;
  /** When measured: the mean over the ranks with examples of |G_r|^2 (rank r's mean gradient), and their mean batch. */
  small?: { normSq: number; batch: number };
}

/**
 * McCandlish et al.'s two-batch estimate of the gradient noise (appendix A): a small batch's and a
 * big batch's mean gradients satisfy E|G_B|^2 = |G|^2 + tr(Sigma) / B, so from B_small (a rank's
 * batch) and B_big (the global one)
 *   tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)
 *   |G|^2     = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
 * with no per-example gradients (|G_small|^2 averaged over the ranks).
 */
export interface TwoBatchNoise {
  ddp_batch_small: number;
  ddp_batch_big: number;
  ddp_trace_cov: number;
  ddp_grad_norm_sq: number;
  ddp_noise_scale: number;
}

export function twoBatchNoise(small: { normSq: number; batch: number }, big: { normSq: number; batch: number }): TwoBatchNoise | undefined {
  if (!(big.batch > small.batch)) return undefined;
  const traceCov = (small.normSq - big.normSq) / (1 / small.batch - 1 / big.batch);
  const gradNormSq = (big.batch * big.normSq - small.batch * small.normSq) / (big.batch - small.batch);
  return {
    ddp_batch_small: small.batch,
    ddp_batch_big: big.batch,
    ddp_trace_cov: traceCov,
    ddp_grad_norm_sq: gradNormSq,
    ddp_noise_scale: traceCov / gradNormSq,
  };
}

const MAX_COUNTED_DRAWS = 1 << 28;

/** Parameters of at least this many elements are reduced in place, each with its own allreduce; smaller ones share one buffer. */
const BUCKET_MIN = 16_384;

export class DataParallel {
  readonly rank: number;
  readonly size: number;
  /** Batches per update group: ranks x accumulate. */
  private readonly group: number;
  private readonly loader: ShardedLoader;
  private readonly params: Tensor[];
  /** The next global batch index this rank serves, and the batch index the generator has been advanced to. */
  private next = 0;
  private drawnTo = 0;
  /** The last update group this rank has joined in the current epoch. */
  private joined = -1;
  /** Generator draws per example of a training forward pass (undefined: not measured yet). */
  private drawsPerExample: number | undefined;
  /**
   * The small parameters' buffer, reused by every update: MPI moves memory it has seen before
   * about ten times faster (2 MB: ~2 ms instead of ~20 ms on loopback; the large parameters' sums
   * are in backend memory, which is reused too).
   */
  private buffer: Float32Array | Float64Array | undefined;

  constructor(
    readonly comm: Communicator,
    params: Tensor[],
    accumulate: number,
    loader: BatchLoader,
  ) {
    this.rank = comm.rank;
    this.size = comm.size;
    this.group = comm.size * accumulate;
    this.params = params;
    this.loader = loader as ShardedLoader;
    const shard = this.loader.shard;
    if (!shard || shard.rank !== comm.rank || shard.size !== comm.size)
      throw new Error(
        `fit: with a communicator of ${comm.size} ranks the training loader must take this rank's share of each epoch: new DataLoader(data, { ..., shard: communicator }) (got ${shard ? `shard ${shard.rank} of ${shard.size}` : 'no shard'})`,
      );
  }

  /** Batches per epoch, over all ranks. */
  private get batches(): number {
    return this.loader.length;
  }

  /**
   * Throws, on every rank alike, when the ranks were set up differently (different models, data,
   * batch sizes...): a collective on buffers of different sizes would otherwise hang or fail late.
   */
  checkSameSetup(setup: Record<string, number>): void {
    // the parameters' count and their shapes and dtypes: each large one is its own allreduce
    const layout = hash32(this.params.map((p) => `${p.dtype}[${p.shape.join(',')}]`).join(';'));
    const facts: Record<string, number> = { ...setup, parameters: this.params.reduce((s, p) => s + p.size, 0), parameterLayout: layout };
    const names = Object.keys(facts).sort();
    const differ = differsAcrossRanks(
      this.comm,
      names.map((k) => facts[k]!),
    );
    const bad = names.filter((_, i) => differ[i]);
    if (bad.length) throw new Error(`fit: the ${this.size} ranks were set up differently: ${bad.join(', ')} differ; every rank must run the same training`);
  }

  /**
   * A layer that makes a collective call in every training forward and backward pass
   * (SyncBatchNorm; it declares `collectiveForward`) needs every rank to train the same number of
   * batches: a rank without a batch in the epoch's last group runs no forward pass, and the others
   * would wait for it in that layer's allreduce. Throws, on every rank alike (checkSameSetup has
   * compared the batch counts), when the epoch's batches are not a multiple of the ranks.
   */
  checkCollectiveLayers(model: TrainableModel): void {
    const modules = (model as { namedModules?: () => [string, unknown][] }).namedModules?.() ?? [];
    const names = modules.filter(([, m]) => (m as { collectiveForward?: unknown }).collectiveForward === true).map(([k]) => `'${k}'`);
    if (names.length === 0 || this.batches % this.size === 0) return;
    throw new Error(
      `fit: the model's layer(s) ${names.join(', ')} (SyncBatchNorm) take their statistics over the ${this.size} ranks in every forward pass, so every rank must train the same number of batches; expected the epoch's batches to be a multiple of ${this.size}, got ${this.batches} (the last ranks would have no batch in the last update group). Choose a batch size (with dropLast: true if needed) that gives a multiple of ${this.size} batches`,
    );
  }

  /** Make every rank's weights and buffers rank 0's (one broadcast of their bytes). */
  broadcastState(model: TrainableModel): void {
    const entries = Object.entries(model.stateDict());
    const views = entries.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const bytes = new Uint8Array(views.reduce((s, v) => s + v.length, 0));
    let at = 0;
    for (const v of views) {
      bytes.set(v, at);
      at += v.length;
    }
    this.comm.broadcast(bytes, 0);
    if (this.rank === 0) return;
    at = 0;
    const loaded: Record<string, Tensor> = {};
    for (const [k, t] of entries) {
      const n = t.data.byteLength;
      const copy = bytes.slice(at, at + n);
      at += n;
      const Ctor = t.data.constructor as new (b: ArrayBuffer) => Tensor['data'];
      loaded[k] = tensor(new Ctor(copy.buffer), { dtype: t.dtype, shape: t.shape });
    }
    model.loadStateDict(loaded, true);
  }

  /**
   * A mid-epoch checkpoint holds rank 0's running sums (its own examples): rank 0 goes on from
   * them, the other ranks from zero, so the epoch's sums over the ranks count each example once.
   */
  resumedProgress(p: EpochProgress): EpochProgress {
    return this.rank === 0 ? p : { ...p, lossSum: 0, examples: 0, metrics: {} };
  }

  /** An epoch begins with the loader at batch `first` (0, or where a resumed checkpoint stopped). */
  beginEpoch(first: number): void {
    const offset = (((this.rank - first) % this.size) + this.size) % this.size;
    this.next = first + offset;
    this.drawnTo = first;
    this.joined = Math.floor(first / this.group) - 1;
  }

  /** Before this rank's next batch: its global index; the generator is advanced past the batches before it. */
  beforeBatch(model: TrainableModel, x: Tensor): number {
    const b = this.next;
    this.next += this.size;
    if (this.drawsPerExample === undefined) this.drawsPerExample = measureDraws(model, x);
    this.advanceTo(b);
    this.drawnTo = b + 1;
    return b;
  }

  /**
   * After batch b: whether it ends this rank's part of an update group (then the caller reduces),
   * and the loader's position (the batches up to this rank's next one are other ranks').
   */
  afterBatch(b: number): { endsGroup: boolean; position: number } {
    const position = Math.min(b + this.size, this.batches);
    this.advanceTo(position);
    const endsGroup = position >= this.batches || Math.floor(position / this.group) !== Math.floor(b / this.group);
    if (endsGroup) this.joined = Math.floor(b / this.group);
    return { endsGroup, position };
  }

  /** At the epoch's end: whether the last group still needs this rank (which had no batch in it). */
  lastGroupPending(): boolean {
    this.advanceTo(this.batches);
    const last = Math.floor((this.batches - 1) / this.group);
    if (this.batches === 0 || this.joined >= last) return false;
    this.joined = last;
    return true;
  }

  /**
   * The group's mean-loss gradient over all ranks. `held` is this rank's accumulation as the
   * trainer keeps it (one batch: its mean-loss gradient; several: sum_i n_i * grad_i), or null.
   *
   * Each rank's sum n_i * grad_i is made in backend memory, and a parameter of BUCKET_MIN elements
   * or more is reduced there, in place (its own allreduce: no copy in or out, which cost more than
   * the allreduce itself); the smaller ones share one buffer with the example count, the loss and
   * the flags. The sums are then divided by the global count, so every rank does the arithmetic
   * one process with `accumulate` does, in float32 for float32 parameters.
   */
  reduce(held: Map<Tensor, Tensor> | null, local: { batches: number; examples: number; lossSum: number; badLoss: boolean; measure: boolean }): Reduced {
    const { batches: batchesHeld, examples, badLoss, measure } = local;
    const batchesInGroup = Math.min(this.group, this.batches - this.joined * this.group);
    // One batch in the whole group: its gradient as it is (the rank that has it sends it unscaled).
    const raw = batchesInGroup === 1;
    const sums = noGrad(() =>
      this.params.map((p) => {
        const g = held?.get(p);
        if (!g) return zeros(p.shape, { dtype: p.dtype }); // a rank without batches in the group adds zeros
        return batchesHeld === 1 && !raw ? mul(g, examples) : clone(g);
      }),
    );
    const small = sums.filter((t) => t.size < BUCKET_MIN);
    const smallSize = small.reduce((n, t) => n + t.size, 0);
    // float32 parameters (the usual): a float32 buffer, so that MPI adds as the backend does.
    const Flat = this.params.some((p) => p.dtype === 'float64') ? Float64Array : Float32Array;
    if (this.buffer?.length !== smallSize + 5 || !(this.buffer instanceof Flat)) this.buffer = new Flat(smallSize + 5);
    const flat = this.buffer;
    let at = 0;
    for (const t of small) {
      flat.set(t.data.subarray(0, t.size), at);
      at += t.size;
    }
    flat[at] = examples;
    flat[at + 1] = badLoss ? 1 : 0;
    flat[at + 2] = flat[at + 3] = 0;
    flat[at + 4] = local.lossSum;
    if (measure && examples > 0 && !raw) {
      // |G_r|^2 of this rank's mean gradient (its sum over its examples), for twoBatchNoise.
      let sq = 0;
      for (const t of sums) for (const v of t.data.subarray(0, t.size)) sq += v * v;
      flat[at + 2] = sq / (examples * examples);
      flat[at + 3] = 1;
    }
    this.comm.allreduce(flat, 'sum');
    for (const t of sums) if (t.size >= BUCKET_MIN) this.comm.allreduce(t.data.subarray(0, t.size) as Float32Array | Float64Array, 'sum');
    at = 0;
    for (const t of small) {
      t.data.set(flat.subarray(at, at + t.size));
      at += t.size;
    }
    const count = flat[at]!;
    const grads = new Map<Tensor, Tensor>();
    this.params.forEach((p, i) => {
      const sum = sums[i]!;
      if (raw) grads.set(p, sum);
      else {
        grads.set(
          p,
          noGrad(() => div(sum, count)),
        );
        sum.dispose();
      }
    });
    const withData = flat[at + 3]!;
    const smallBatch = withData > 0 ? { normSq: flat[at + 2]! / withData, batch: count / withData } : undefined;
    return { grads, badLoss: flat[at + 1]! > 0, examples: count, loss: flat[at + 4]! / count, small: smallBatch };
  }

  /** Element-wise sums over the ranks (float64): the epoch's loss and metric sums, example counts. */
  sum(values: readonly number[]): number[] {
    const buf = Float64Array.from(values);
    this.comm.allreduce(buf, 'sum');
    return Array.from(buf);
  }

  /**
   * BatchNorm's running statistics (every float buffer) become the mean of the ranks' own: each
   * rank updates them from its own batches only. Done at the end of every epoch, before the
   * evaluation and the checkpoint, so every rank evaluates and rank 0 saves the same values.
   */
  averageBuffers(model: TrainableModel): void {
    const params = new Set(this.params);
    const buffers = Object.entries(model.stateDict()).filter(([, t]) => !params.has(t) && (t.dtype === 'float32' || t.dtype === 'float64'));
    if (buffers.length === 0) return;
    const flat = new Float64Array(buffers.reduce((s, [, t]) => s + t.size, 0));
    let at = 0;
    for (const [, t] of buffers) {
      flat.set(t.data, at);
      at += t.size;
    }
    this.comm.allreduce(flat, 'sum');
    at = 0;
    const averaged: Record<string, Tensor> = {};
    for (const [k, t] of buffers) {
      averaged[k] = tensor(
        flat.subarray(at, at + t.size).map((v) => v / this.size),
        { dtype: t.dtype, shape: t.shape },
      );
      at += t.size;
    }
    model.loadStateDict(averaged, false);
  }

  /** Throws on every rank when the ranks' parameters are no longer bit-identical. */
  checkWeights(epoch: number): void {
    let h = 0x811c9dc5;
    for (const p of this.params) h = hashBytes(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength), h);
    if (differsAcrossRanks(this.comm, [h])[0])
      throw new Error(`fit: after epoch ${epoch} the ${this.size} ranks' weights are no longer identical (a rank computed differently); stopping`);
  }

  /** Advance the default generator past the draws of batches drawnTo..to-1 (other ranks' batches). */
  private advanceTo(to: number): void {
    const perExample = this.drawsPerExample ?? 0;
    let examples = 0;
    for (let b = this.drawnTo; b < to; b++) examples += this.batchSize(b);
    this.drawnTo = Math.max(this.drawnTo, to);
    if (perExample > 0 && examples > 0) skipDraws(defaultGenerator, Math.round(perExample * examples));
  }

  /** Examples in global batch b. */
  private batchSize(b: number): number {
    const { batchSize, dataset } = this.loader;
    if (batchSize === undefined || dataset === undefined)
      throw new Error('fit: data parallelism with random layers (dropout) needs a DataLoader (its batchSize and dataset say each batch size)');
    return Math.max(0, Math.min(batchSize, dataset.length - b * batchSize));
  }
}

/**
 * Draws from the default generator per example of a training forward pass on x, measured without
 * changing anything: the generator and the model's state (BatchNorm's running statistics) are put
 * back.
 */
function measureDraws(model: TrainableModel, x: Tensor): number {
  const start = defaultGenerator.getState();
  const saved = Object.entries(model.stateDict()).map(([k, t]) => [k, keep(noGrad(() => add(t, 0)))] as const);
  noGrad(() => model.forward(x));
  const end = defaultGenerator.getState();
  defaultGenerator.setState(start);
  model.loadStateDict(Object.fromEntries(saved), true);
  for (const [, t] of saved) t.dispose();
  return countDraws(start, end) / x.shape[0]!;
}

/** nextUint32() calls that take a generator from state `from` to state `to`. */
function countDraws(from: RngState, to: RngState): number {
  const g = new Generator(0).setState(from);
  const same = (s: RngState): boolean => s[0] === to[0] && s[1] === to[1] && s[2] === to[2] && s[3] === to[3];
  for (let n = 0; n < MAX_COUNTED_DRAWS; n++) {
    if (same(g.getState())) return n;
    g.nextUint32();
  }
  throw new Error(`fit: a training forward pass drew more than ${MAX_COUNTED_DRAWS} random numbers; data parallelism cannot keep its dropout in step`);
}

function skipDraws(g: Generator, n: number): void {
  const chunk = new Uint32Array(Math.min(n, 65536));
  for (let left = n; left > 0; left -= chunk.length) g.fillUint32(left >= chunk.length ? chunk : chunk.subarray(0, left));
}

/**
 * An epoch's running sums over every rank's examples. A metric that does not apply on some rank
 * (null there) is left out everywhere.
 */
export function epochSums(
  dp: DataParallel,
  ep: { lossSum: number; examples: number; sums: MetricSums },
  metrics: readonly Metric[],
): { lossSum: number; examples: number; sums: MetricSums } {
  const names = metrics.map((m) => m.name);
  const local = names.map((k) => ep.sums.sums[k]);
  const [lossSum, examples, ...rest] = dp.sum([ep.lossSum, ep.examples, ...local.map((v) => (v === null || v === undefined ? NaN : v))]);
  const saved = Object.fromEntries(names.map((k, i) => [k, Number.isNaN(rest[i]!) ? null : rest[i]!]));
  return { lossSum: lossSum!, examples: examples!, sums: new MetricSums(metrics, saved) };
}

/**
 * An evaluation over every rank's share of the data: the ranks' means weighted by their example
 * counts (also right when every rank evaluated all of it: the mean of equal means).
 */
export function reduceEvaluation(dp: DataParallel, v: EvalResult, measured: readonly Metric[]): EvalResult {
  const names = measured.map((m) => m.name);
  const n = v.examples;
  // A rank without examples adds nothing; a metric that does not apply on a rank is left out (NaN).
  const weigh = (x: number | undefined): number => (n > 0 ? (x ?? NaN) * n : 0);
  const [lossSum, examples, ...rest] = dp.sum([weigh(v.loss), n, ...names.map((k) => weigh(v.metrics[k]))]);
  const metrics = Object.fromEntries(names.map((k, i) => [k, rest[i]! / examples!]).filter(([, x]) => !Number.isNaN(x)));
  return { loss: lossSum! / examples!, accuracy: metrics.accuracy, metrics, examples: examples!, confusion: undefined };
}
