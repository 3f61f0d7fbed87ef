/** SequentialLR: one schedule after another, switching at given epochs (e.g. warm-up then cosine). */
import { checkInteger } from './checks.js';
import type { BaseHyper } from './optimizer.js';
import type { Optimizer } from './optimizer.js';
import type { SchedulerState } from './schedulers.js';
import { countAtMost, LRScheduler } from './schedulers.js';

/**
 * Runs schedulers[0] until milestones[0], then schedulers[1] until milestones[1], and so on. Each
 * scheduler starts from its own epoch 0 when its turn comes, so at epoch t the lr is
 *   schedulers[k].lrAt(t - milestones[k-1])   with k the number of milestones <= t.
 *
 *   const warm = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 *   const cos = new CosineAnnealingLR(opt, 95);
 *   const sched = new SequentialLR(opt, [warm, cos], [5]);
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];
  readonly milestones: readonly number[];

  constructor(optimizer: Optimizer<BaseHyper>, schedulers: readonly LRScheduler[], milestones: readonly number[]) {
    super('SequentialLR', optimizer);
    if (!Array.isArray(schedulers) || schedulers.length === 0) throw new RangeError('SequentialLR: expected at least one scheduler');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new TypeError(`SequentialLR: schedulers[${i}] is not an LRScheduler (ReduceLROnPlateau cannot be sequenced)`);
      if (s.optimizer !== this.optimizer) throw new RangeError(`SequentialLR: schedulers[${i}] (${s.name}) belongs to another optimizer`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} milestones, got ${Array.isArray(milestones) ? milestones.length : 'none'}`,
      );
    }
    milestones.forEach((m, i) => {
      checkInteger('SequentialLR', `milestones[${i}]`, m, 1);
      if (i > 0 && m <= milestones[i - 1]!) throw new RangeError(`SequentialLR: milestones must increase, got [${milestones.join(', ')}]`);
    });
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.stepTo(0);
  }

  private locate(epoch: number): [LRScheduler, number] {
    const k = countAtMost(this.milestones, epoch);
    return [this.schedulers[k]!, epoch - (k > 0 ? this.milestones[k - 1]! : 0)];
  }

  lrAt(epoch: number, _baseLr: number, group: number): number {
    const [s, local] = this.locate(epoch);
    return s.lrAt(local, s.baseLrs[group]!, group);
  }

  /** Hands the epoch to the scheduler whose turn it is (which sets the lrs and anything else it drives). */
  override stepTo(epoch: number): void {
    checkInteger('SequentialLR.stepTo', 'epoch', epoch, 0);
    const [s, local] = this.locate(epoch);
    s.stepTo(local);
    this.lastEpoch = epoch;
    this.lastLr = s.getLastLr();
  }

  override stateDict(): SchedulerState {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(state: SchedulerState): void {
    const subs = state?.schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new RangeError(`SequentialLR.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    }
    super.loadStateDict(state);
    this.schedulers.forEach((s, i) => s.loadStateDict(subs[i] as SchedulerState));
  }
}
