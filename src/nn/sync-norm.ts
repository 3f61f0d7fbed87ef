/**
 * SyncBatchNorm: batch normalisation whose training statistics are over the examples of every
 * rank of a data-parallel group (PyTorch's torch.nn.SyncBatchNorm), so N ranks with B examples
 * each normalise as one process with a batch of N*B would.
 *
 * The statistics. Each rank r computes, per channel, its own count n_r, mean m_r and sum of
 * squared deviations M2_r = sum (x - m_r)^2 (stable: about its own mean). One allreduce gathers
 * every rank's (m_r, M2_r, n_r) (each rank writes its slot of a float64 buffer, zeros elsewhere, so
 * the sum over ranks is exact: an all-gather, as PyTorch's all_gather of mean, invstd and count),
 * and every rank combines them alike, in float64, by the parallel-variance formula (Chan et al.):
 *     N = sum_r n_r,  mean = sum_r n_r m_r / N,  M2 = sum_r M2_r + sum_r n_r (m_r - mean)^2,
 *     var = M2 / N (biased, for normalising); running_var takes var N / (N - 1) (unbiased).
 * No sum of squares minus a squared sum: nothing cancels but the between-rank term, in float64.
 *
 * The gradient. The gather is a sum over ranks of a tensor, an op whose adjoint is again a sum
 * over ranks: d(sum_k L_k)/d(rank r's slot) = sum_k dL_k/d(gathered). So `sumOverRanks` records a
 * node whose backward allreduces the incoming gradient, and everything else is composed from ops
 * the tape already differentiates: one allreduce per layer in backward (of the gradient of the
 * gathered statistics, the same information as PyTorch's sums of dy and dy*xhat), and the input
 * gradient is exactly the gradient of the whole group's loss. Each rank's weight and bias
 * gradients are its own examples' part; the data-parallel gradient allreduce adds them.
 *
 * Collective: in training mode with a communicator of 2 ranks or more, every forward pass (and
 * every backward pass through it) is a collective call: every rank must make it, in the same
 * order. Without a communicator, with one rank, or in eval mode, it is BatchNorm exactly (the same
 * code: BatchNormBase.forward).
 */
import { isGradEnabled } from '../core/grad-mode.js';
import { shapeStr } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { differsAcrossRanks } from '../distributed/communicator.js';
import type { Communicator } from '../distributed/communicator.js';
import { add, cast, concat, div, mul, narrow, pad, reshape, rsqrt, sub, sum, tensor } from '../ops/index.js';
import type { Module } from './module.js';
import type { BatchNormOptions } from './norm.js';
import { BatchNorm1d, BatchNorm2d, BatchNormBase } from './norm.js';

export interface SyncBatchNormOptions extends BatchNormOptions {
  /** The group whose examples make the statistics (default none: BatchNorm on this rank's batch). Settable later: `layer.communicator = comm`. */
  communicator?: Communicator | null;
}

/**
 * The sum over the ranks of t (every rank gets it), as a differentiable op: forward one allreduce
 * (through a float64 buffer). Backward: the gradient of the group's loss with respect to this
 * rank's summand is the sum over the ranks of their incoming gradients, each weighed by its
 * rank's share of the examples: fit() (data parallelism) adds the ranks' gradients weighted by
 * their example counts n_r (sum_r n_r g_r / N), so rank r sends sum_k n_k g_k / n_r, and the
 * weighted sum gives every rank's loss the weight it has in the group's mean. With equal batches
 * that is the plain sum (PyTorch's SyncBatchNorm, whose DDP averages equal batches).
 */
function sumOverRanks(t: Tensor, comm: Communicator, count: number): Tensor {
  const buf = Float64Array.from(t.data.subarray(0, t.size));
  comm.allreduce(buf, 'sum');
  const out = tensor(buf, { shape: t.shape, dtype: t.dtype });
  if (isGradEnabled() && t.requiresGrad)
    out.node = { op: 'sumOverRanks', inputs: [t], backward: (g) => [div(sumOverRanks(mul(g, count), comm, count), Math.max(count, 1))] };
  return out;
}

/** The tensors convertSyncBatchnorm hands to the next SyncBatchNorm constructed, by name (null: make new ones). */
let adopting: Readonly<Record<string, Tensor>> | null = null;

/**
 * Batch normalisation over the examples of every rank (see the file comment). Options and state
 * dict as BatchNorm1d/2d (weight, bias, running_mean, running_var, num_batches_tracked); inputs of
 * rank 2 to 5 with the channels on axis 1, as PyTorch's SyncBatchNorm. Running statistics are
 * updated from the global batch, so they are identical on every rank.
 *
 * Differences from PyTorch, on purpose: the group is an explicit `communicator` (PyTorch uses the
 * default process group), and the statistics are combined in float64 whatever the layer's dtype.
 */
export class SyncBatchNorm extends BatchNormBase {
  protected readonly ranks = [2, 3, 4, 5];
  /** The group the statistics are taken over; null: this rank alone (plain BatchNorm). */
  communicator: Communicator | null;
  /** The communicator whose ranks were checked to agree on the channel count. */
  private checked: Communicator | null = null;

  constructor(numFeatures: number, options: SyncBatchNormOptions = {}) {
    super(numFeatures, options);
    this.communicator = options.communicator ?? null;
  }

  /** Set (or clear) the group the statistics are taken over; returns this. */
  setCommunicator(communicator: Communicator | null): this {
    this.communicator = communicator;
    return this;
  }

  /**
   * True when a training forward pass makes a collective call (a communicator of 2 ranks or more):
   * then every rank must run every forward and backward pass. fit() reads it to refuse an epoch
   * whose batches do not divide evenly over the ranks.
   */
  get collectiveForward(): boolean {
    return this.communicator !== null && this.communicator.size > 1;
  }

  protected override registerParameter(name: string, t: Tensor): Tensor {
    return super.registerParameter(name, adopting?.[name] ?? t);
  }

  protected override registerBuffer(name: string, t: Tensor): Tensor {
    return super.registerBuffer(name, adopting?.[name] ?? t);
  }

  override forward(x: Tensor): Tensor {
    const comm = this.communicator;
    if (!this.training || comm === null || comm.size <= 1) return super.forward(x);
    if (!this.ranks.includes(x.rank) || x.shape[1] !== this.numFeatures) {
      throw new RangeError(
        `SyncBatchNorm: expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels on axis 1, got shape ${shapeStr(x.shape)}`,
      );
    }
    this.checkRanksAgree(comm);
    const perChannel = x.shape.map((dim, i) => (i === 1 ? dim : 1));
    const { m, v, n } = this.globalStats(x, comm);
    if (n <= 1) throw new RangeError(`SyncBatchNorm: expected more than 1 value per channel over all ranks when training, got ${n}`);
    const mean = reshape(cast(m, x.dtype), perChannel);
    const variance = reshape(cast(v, x.dtype), perChannel);
    if (this.runningMean !== null) this.updateRunningStats(mean, variance, n);
    // As BatchNormBase: y = (x - mean) * (w / s) + b, the per-channel factors folded first.
    const inv = rsqrt(add(variance, this.eps));
    const y = mul(sub(x, mean), this.weight ? mul(inv, reshape(this.weight, perChannel)) : inv);
    return this.bias ? add(y, reshape(this.bias, perChannel)) : y;
  }

  /**
   * Per-channel mean and biased variance over every rank's examples (float64 [C] tensors,
   * differentiable with respect to x), and the global count of values per channel.
   */
  private globalStats(x: Tensor, comm: Communicator): { m: Tensor; v: Tensor; n: number } {
    const C = this.numFeatures;
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const local = x.size / C;
    // An empty batch still takes part (the call is collective): its mean is 0 and it weighs 0.
    const mr = div(sum(x, axes, true), Math.max(local, 1));
    const dx = sub(x, mr);
    const m2r = sum(mul(dx, dx), axes, true);
    const row = concat([reshape(cast(mr, 'float64'), [1, C]), reshape(cast(m2r, 'float64'), [1, C]), tensor([[local]], { dtype: 'float64' })], 1);
    // Rank r's row in slot r, zeros elsewhere: the sum over ranks is every rank's row.
    const all = sumOverRanks(
      pad(row, [
        [comm.rank, comm.size - comm.rank - 1],
        [0, 0],
      ]),
      comm,
      local,
    );
    const counts = Float64Array.from({ length: comm.size }, (_, k) => all.data[k * (2 * C + 1) + 2 * C]!);
    const n = counts.reduce((s, c) => s + c, 0);
    const means = narrow(all, 1, 0, C),
      m2s = narrow(all, 1, C, C);
    const perRank = (v: Float64Array) => tensor(v, { shape: [comm.size, 1], dtype: 'float64' });
    // Chan et al.: mean = sum_r n_r m_r / N, M2 = sum_r M2_r + sum_r n_r (m_r - mean)^2.
    const m = sum(mul(means, perRank(counts.map((c) => c / n))), [0]);
    const between = sub(means, m);
    const m2 = add(sum(m2s, [0]), sum(mul(mul(between, between), perRank(counts)), [0]));
    return { m, v: div(m2, n), n };
  }

  /**
   * Once per communicator: the ranks must agree on the channel count, or the gathers would be
   * buffers of different lengths (an MPI job that hangs or fails late). Two allreduces of one value.
   */
  private checkRanksAgree(comm: Communicator): void {
    if (this.checked === comm) return;
    if (differsAcrossRanks(comm, [this.numFeatures])[0])
      throw new Error(
        `SyncBatchNorm: the ${comm.size} ranks have different channel counts (this rank ${this.numFeatures}); expected the same model on every rank`,
      );
    this.checked = comm;
  }

  protected override extraRepr(): string {
    return `${super.extraRepr()}, ranks=${this.communicator?.size ?? 1}`;
  }

  /**
   * `module` with every BatchNorm1d and BatchNorm2d in it (at any depth, in Sequential or any
   * container) replaced by a SyncBatchNorm with the same options, mode and the SAME parameter and
   * buffer tensors (shared, as PyTorch's convert_sync_batchnorm does, so an optimizer built before
   * still holds them). The containers are changed in place; a BatchNorm given as `module` itself
   * is returned converted. A BatchNorm reachable along two paths becomes one SyncBatchNorm.
   */
  static convertSyncBatchnorm(module: BatchNorm1d | BatchNorm2d, communicator?: Communicator | null): SyncBatchNorm;
  static convertSyncBatchnorm<M extends Module>(module: M, communicator?: Communicator | null): M;
  static convertSyncBatchnorm(module: Module, communicator: Communicator | null = null): Module {
    const made = new Map<Module, SyncBatchNorm>();
    const convert = (bn: BatchNormBase): SyncBatchNorm => {
      let s = made.get(bn);
      if (!s) made.set(bn, (s = syncFrom(bn, communicator)));
      return s;
    };
    if (isPlainBatchNorm(module)) return convert(module);
    for (const [, parent] of module.namedModules()) {
      for (const [name, child] of parent.namedChildren()) if (isPlainBatchNorm(child)) replaceChild(parent, name, child, convert(child));
    }
    return module;
  }
}

function isPlainBatchNorm(m: Module): m is BatchNorm1d | BatchNorm2d {
  return m instanceof BatchNorm1d || m instanceof BatchNorm2d;
}

/** A SyncBatchNorm holding bn's own tensors and options. */
function syncFrom(bn: BatchNormBase, communicator: Communicator | null): SyncBatchNorm {
  const own = Object.fromEntries(Object.entries(bn.stateDict()).filter(([k]) => !k.includes('.')));
  adopting = own;
  try {
    const s = new SyncBatchNorm(bn.numFeatures, {
      eps: bn.eps,
      momentum: bn.momentum,
      affine: bn.weight !== null,
      trackRunningStats: bn.runningMean !== null,
      dtype: (bn.weight ?? bn.runningMean)?.dtype === 'float64' ? 'float64' : 'float32',
      communicator,
    });
    s.training = bn.training;
    return s;
  } finally {
    adopting = null;
  }
}

/**
 * Replace parent's child `name` (module `old`) by `next`: the registration itself (Module's
 * replaceModule, which keeps the name's place), then every field of parent that holds `old`
 * (directly or in an array, as Sequential's list of layers); assigning a module that is already a
 * child leaves the registrations as they are (Module's field rule).
 */
function replaceChild(parent: Module, name: string, old: Module, next: Module): void {
  (parent as unknown as { replaceModule(name: string, m: Module): void }).replaceModule(name, next);
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (v === old) fields[key] = next;
    else if (Array.isArray(v)) v.forEach((e, i) => e === old && (v[i] = next));
  }
}
