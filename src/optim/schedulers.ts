/**
 * Learning-rate schedules, as torch.optim.lr_scheduler. A scheduler sets `lr` on every param group
 * of its optimizer; call step() once per epoch (or per batch, for per-step schedules):
 *
 *   const sched = new CosineAnnealingLR(opt, 100);
 *   for (let epoch = 0; epoch < 100; epoch++) { trainOneEpoch(); sched.step(); }
 *
 * Every schedule here is written in closed form: lr(t) from the group's base lr and t alone, so
 * the result does not drift with rounding or with someone else having changed lr in between.
 */
import { checkInteger, checkNonNegative, checkPositive, checkInRange } from './checks.js';
import type { BaseHyper, JsonValue } from './optimizer.js';
import { Optimizer } from './optimizer.js';

/** What a scheduler saves: JSON only. */
export interface SchedulerState {
  scheduler: string;
  lastEpoch: number;
  [key: string]: JsonValue;
}

export function checkOptimizer(who: string, optimizer: unknown): Optimizer<BaseHyper> {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${who}: expected an Optimizer (SGD, Adam, ...) as the first argument`);
  return optimizer as Optimizer<BaseHyper>;
}

function checkNumberArray(who: string, name: string, v: unknown, length: number): number[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new RangeError(`${who}: ${name} must be ${length} finite numbers (one per param group), got ${JSON.stringify(v)}`);
  }
  return [...(v as number[])];
}

/**
 * The base of epoch-based schedules. The first scheduler attached to an optimizer records each
 * group's lr as `initialLr`; every schedule is computed from those base lrs. A subclass defines
 * lrAt (the closed form) and calls `this.stepTo(0)` at the end of its constructor, which sets the
 * epoch-0 learning rates (as PyTorch's constructor step does).
 */
export abstract class LRScheduler {
  readonly optimizer: Optimizer<BaseHyper>;
  /** The epoch the current lrs belong to: 0 after construction, +1 per step() (PyTorch's last_epoch). */
  lastEpoch = -1;
  /** Each group's base lr (its initialLr). */
  baseLrs: number[];
  protected lastLr: number[] = [];

  constructor(
    readonly name: string,
    optimizer: Optimizer<BaseHyper>,
  ) {
    this.optimizer = checkOptimizer(name, optimizer);
    for (const g of this.optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = this.optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** The closed form: the lr of param group `group` at `epoch`, given its base lr. */
  abstract lrAt(epoch: number, baseLr: number, group: number): number;

  /** Advance one epoch and set the new lr on every group. */
  step(): void {
    this.stepTo(this.lastEpoch + 1);
  }

  /** Set every group's lr to its value at `epoch` (used on construction, by SequentialLR, and to jump). */
  stepTo(epoch: number): void {
    checkInteger(`${this.name}.stepTo`, 'epoch', epoch, 0);
    const lrs = this.baseLrs.map((base, i) => this.lrAt(epoch, base, i));
    this.setLrs(lrs, epoch);
  }

  /**
   * Only finiteness is checked here: a schedule may end on a value that is never used (OneCycleLR's
   * linear anneal goes below 0 at epoch totalSteps, as PyTorch's does); the optimizer refuses an
   * lr < 0 if a step is taken with it.
   */
  protected setLrs(lrs: number[], epoch: number): void {
    lrs.forEach((lr, i) => {
      if (!Number.isFinite(lr)) throw new RangeError(`${this.name}: the schedule gives lr ${lr} for param group ${i} at epoch ${epoch}; an lr must be finite`);
    });
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
    this.lastEpoch = epoch;
    this.lastLr = lrs;
  }

  /** The lrs set by the last step (one per param group). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerState {
    return { scheduler: this.name, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr] };
  }

  /** Restore the epoch and base lrs. The optimizer's lrs come from its own state dict (as PyTorch). */
  loadStateDict(state: SchedulerState): void {
    const who = `${this.name}.loadStateDict`;
    if (!state || state.scheduler !== this.name)
      throw new TypeError(`${who}: the state is of a ${state ? String(state.scheduler) : 'missing'} scheduler, not ${this.name}`);
    const n = this.optimizer.paramGroups.length;
    const lastEpoch = checkInteger(who, 'lastEpoch', state.lastEpoch, 0);
    this.baseLrs = checkNumberArray(who, 'baseLrs', state.baseLrs, n);
    this.lastLr = checkNumberArray(who, 'lastLr', state.lastLr, n);
    this.lastEpoch = lastEpoch;
  }
}

/** lr = base * lrLambda(epoch), with one function for all groups or one per group. */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];

  constructor(optimizer: Optimizer<BaseHyper>, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[]) {
    super('LambdaLR', optimizer);
    const n = this.optimizer.paramGroups.length;
    const fns = Array.isArray(lrLambda) ? lrLambda : Array.from({ length: n }, () => lrLambda);
    if (fns.length !== n || fns.some((f) => typeof f !== 'function'))
      throw new TypeError(`LambdaLR: expected one function or ${n} functions (one per param group)`);
    this.lambdas = fns;
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number, group: number): number {
    return baseLr * this.lambdas[group]!(epoch);
  }
}

/** lr = base * gamma^floor(epoch / stepSize): decay by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseHyper>,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    super('StepLR', optimizer);
    checkInteger('StepLR', 'stepSize', stepSize, 1);
    checkNonNegative('StepLR', 'gamma', gamma);
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base * gamma^(number of milestones <= epoch): decay by gamma at each milestone. */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];

  constructor(
    optimizer: Optimizer<BaseHyper>,
    milestones: readonly number[],
    readonly gamma = 0.1,
  ) {
    super('MultiStepLR', optimizer);
    if (!Array.isArray(milestones)) throw new TypeError('MultiStepLR: milestones must be an array of epochs');
    milestones.forEach((m, i) => checkInteger('MultiStepLR', `milestones[${i}]`, m, 1));
    checkNonNegative('MultiStepLR', 'gamma', gamma);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** countAtMost(this.milestones, epoch);
  }
}

/** How many of the sorted values are <= x (Python's bisect_right). */
export function countAtMost(sorted: readonly number[], x: number): number {
  let n = 0;
  while (n < sorted.length && sorted[n]! <= x) n++;
  return n;
}

/** lr = base * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseHyper>,
    readonly gamma: number,
  ) {
    super('ExponentialLR', optimizer);
    checkNonNegative('ExponentialLR', 'gamma', gamma);
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** epoch;
  }
}

/**
 * Half a cosine from base down to etaMin over tMax epochs (SGDR without restarts):
 *   lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2
 * Past tMax the cosine goes on (back up), as PyTorch's closed form does.
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseHyper>,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    super('CosineAnnealingLR', optimizer);
    checkInteger('CosineAnnealingLR', 'tMax', tMax, 1);
    checkNonNegative('CosineAnnealingLR', 'etaMin', etaMin);
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

export interface LinearLROptions {
  /** The factor at epoch 0 (default 1/3). */
  startFactor?: number;
  /** The factor from totalIters on (default 1). */
  endFactor?: number;
  /** Epochs to go from startFactor to endFactor (default 5). */
  totalIters?: number;
}

/**
 * lr = base * (start + (end - start) min(epoch, totalIters) / totalIters): a linear ramp, used as
 * warm-up. (Options object rather than PyTorch's positional arguments, for readable call sites.)
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: Optimizer<BaseHyper>, options: LinearLROptions = {}) {
    super('LinearLR', optimizer);
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = options;
    checkPositive('LinearLR', 'startFactor', startFactor);
    checkInRange('LinearLR', 'startFactor', startFactor, 0, 1, true);
    checkInRange('LinearLR', 'endFactor', endFactor, 0, 1, true);
    checkInteger('LinearLR', 'totalIters', totalIters, 1);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.stepTo(0);
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(epoch, this.totalIters)) / this.totalIters);
  }
}
