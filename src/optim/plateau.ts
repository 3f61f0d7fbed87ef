/** ReduceLROnPlateau: cut the lr when a monitored metric stops improving, as PyTorch's. */
import { checkInRange, checkInteger, checkNonNegative, checkOneOf } from './checks.js';
import type { BaseHyper, Optimizer } from './optimizer.js';
import type { SchedulerState } from './schedulers.js';
import { checkOptimizer } from './schedulers.js';

export interface ReduceLROnPlateauOptions {
  /** 'min': lower is better (a loss); 'max': higher is better (an accuracy). */
  mode?: 'min' | 'max';
  /** The lr is multiplied by this when it is cut (default 0.1; must be < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before cutting (default 10). */
  patience?: number;
  /** How much better counts as better (default 1e-4). */
  threshold?: number;
  /** 'rel': better than best * (1 -/+ threshold); 'abs': better than best -/+ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a cut before counting bad epochs again (default 0). */
  cooldown?: number;
  /** The lr never goes below this (one value, or one per group; default 0). */
  minLr?: number | readonly number[];
  /** A cut smaller than this is not made (default 1e-8). */
  eps?: number;
}

/**
 * After each epoch, step(metric). An epoch is bad when the metric does not beat the best so far by
 * the threshold; after more than `patience` bad epochs in a row, every group's lr becomes
 * max(lr * factor, minLr) and `cooldown` epochs pass before bad epochs count again.
 */
export class ReduceLROnPlateau {
  readonly name = 'ReduceLROnPlateau';
  readonly optimizer: Optimizer<BaseHyper>;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  /** The best metric so far (±Infinity before the first). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: Optimizer<BaseHyper>, options: ReduceLROnPlateauOptions = {}) {
    const who = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(who, optimizer);
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    this.mode = checkOneOf(who, 'mode', mode, ['min', 'max'] as const);
    this.factor = checkInRange(who, 'factor', factor, 0, 1);
    this.patience = checkInteger(who, 'patience', patience, 0);
    this.threshold = checkNonNegative(who, 'threshold', threshold);
    this.thresholdMode = checkOneOf(who, 'thresholdMode', thresholdMode, ['rel', 'abs'] as const);
    this.cooldown = checkInteger(who, 'cooldown', cooldown, 0);
    this.eps = checkNonNegative(who, 'eps', eps);
    const n = this.optimizer.paramGroups.length;
    const mins = typeof minLr === 'number' ? Array.from({ length: n }, () => minLr) : [...minLr];
    if (mins.length !== n) throw new RangeError(`${who}: minLr has ${mins.length} values for ${n} param groups`);
    mins.forEach((m, i) => checkNonNegative(who, `minLr[${i}]`, m));
    this.minLrs = mins;
    this.best = this.worst();
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether `a` beats `best` by the threshold. */
  isBetter(a: number, best: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (1 + t) : a > best + t;
  }

  /** Record one epoch's metric (NaN counts as a bad epoch) and cut the lr if it has plateaued. */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new TypeError(`ReduceLROnPlateau.step: expected the monitored metric as a number, got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs during cooldown are not counted
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const next = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** JSON state; a best of ±Infinity (nothing seen yet) is saved as null. */
  stateDict(): SchedulerState {
    return {
      scheduler: this.name,
      lastEpoch: this.lastEpoch,
      best: Number.isFinite(this.best) ? this.best : null,
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastLr: [...this.lastLr],
    };
  }

  loadStateDict(state: SchedulerState): void {
    const who = 'ReduceLROnPlateau.loadStateDict';
    if (!state || state.scheduler !== this.name)
      throw new TypeError(`${who}: the state is of a ${state ? String(state.scheduler) : 'missing'} scheduler, not ${this.name}`);
    const lastEpoch = checkInteger(who, 'lastEpoch', state.lastEpoch, 0);
    const numBad = checkInteger(who, 'numBadEpochs', state.numBadEpochs, 0);
    const cooldown = checkInteger(who, 'cooldownCounter', state.cooldownCounter, 0);
    if (state.best !== null && typeof state.best !== 'number') throw new TypeError(`${who}: best must be a number or null`);
    const lastLr = state.lastLr;
    if (!Array.isArray(lastLr) || lastLr.length !== this.optimizer.paramGroups.length || lastLr.some((x) => typeof x !== 'number')) {
      throw new RangeError(`${who}: lastLr must hold one number per param group (${this.optimizer.paramGroups.length})`);
    }
    this.lastEpoch = lastEpoch;
    this.numBadEpochs = numBad;
    this.cooldownCounter = cooldown;
    this.best = state.best === null ? this.worst() : state.best;
    this.lastLr = [...(lastLr as number[])];
  }
}
