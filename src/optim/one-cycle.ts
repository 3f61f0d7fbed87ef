/** The 1cycle policy (Smith & Topin, "Super-Convergence"), as torch.optim.lr_scheduler.OneCycleLR. */
import { checkBoolean, checkInRange, checkInteger, checkOneOf, checkPositive } from './checks.js';
import type { BaseHyper, Optimizer } from './optimizer.js';
import { LRScheduler } from './schedulers.js';

export interface OneCycleOptions {
  /** Fraction of the steps spent raising the lr (default 0.3). */
  pctStart?: number;
  /** Shape of each phase: half a cosine (default) or a straight line. */
  annealStrategy?: 'cos' | 'linear';
  /** Move momentum (or Adam's beta1) opposite to the lr, between baseMomentum and maxMomentum (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | readonly number[];
  maxMomentum?: number | readonly number[];
  /** The starting lr is maxLr / divFactor (default 25). */
  divFactor?: number;
  /** The final lr is the starting lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, back down to the start, then down to the final lr) instead of two. */
  threePhase?: boolean;
}

interface Phase {
  end: number;
  lr: ['initial' | 'max' | 'min', 'initial' | 'max' | 'min'];
  momentum: ['base' | 'max', 'base' | 'max'];
}

/** Half a cosine from start (pct = 0) to end (pct = 1). */
function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}
function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

/** A group seen as its hyperparameters by name (momentum or betas depend on the optimizer). */
function hyper(g: object): Record<string, unknown> {
  return g as Record<string, unknown>;
}

function perGroup(who: string, name: string, v: number | readonly number[], n: number): number[] {
  const arr = typeof v === 'number' ? Array.from({ length: n }, () => v) : [...v];
  if (arr.length !== n) throw new RangeError(`${who}: ${name} has ${arr.length} values for ${n} param groups`);
  arr.forEach((x, i) => checkPositive(who, `${name}[${i}]`, x));
  return arr;
}

/**
 * One cycle over totalSteps batches (step() once per batch). Two phases by default:
 *   steps 0 .. pctStart*T - 1:  lr from maxLr/divFactor up to maxLr, momentum from max down to base
 *   then up to step T - 1:      lr down to maxLr/(divFactor*finalDivFactor), momentum back up to max
 * where within a phase from step a to step b the value at step t is anneal(start, end, (t-a)/(b-a)).
 * Stepping past totalSteps is an error.
 */
/** The cycle's phases (two, or three with threePhase), each ending at a step; none may be empty. */
function phasesOf(who: string, totalSteps: number, pctStart: number, threePhase: boolean): Phase[] {
  const up = pctStart * totalSteps - 1;
  const phases: Phase[] = threePhase
    ? [
        { end: up, lr: ['initial', 'max'], momentum: ['max', 'base'] },
        { end: 2 * pctStart * totalSteps - 2, lr: ['max', 'initial'], momentum: ['base', 'max'] },
        { end: totalSteps - 1, lr: ['initial', 'min'], momentum: ['max', 'max'] },
      ]
    : [
        { end: up, lr: ['initial', 'max'], momentum: ['max', 'base'] },
        { end: totalSteps - 1, lr: ['max', 'min'], momentum: ['base', 'max'] },
      ];
  // A phase of zero (or negative) length would divide by zero.
  let start = 0;
  for (const [i, p] of phases.entries()) {
    if (!(p.end > start)) {
      throw new RangeError(
        `${who}: phase ${i + 1} would be empty (steps ${start} to ${p.end}); raise totalSteps (${totalSteps}) or change pctStart (${pctStart})`,
      );
    }
    start = p.end;
  }
  return phases;
}

export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly lrs: { initial: number; max: number; min: number }[];
  private readonly momenta: { base: number; max: number }[] | null;
  private readonly phases: Phase[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  /** Per group: whether momentum lives in `betas[0]` (Adam) rather than `momentum` (SGD, RMSprop). */
  private readonly useBeta1: boolean[];

  constructor(optimizer: Optimizer<BaseHyper>, maxLr: number | readonly number[], totalSteps: number, options: OneCycleOptions = {}) {
    super('OneCycleLR', optimizer);
    const who = 'OneCycleLR';
    const {
      pctStart = 0.3,
      annealStrategy = 'cos',
      cycleMomentum = true,
      baseMomentum = 0.85,
      maxMomentum = 0.95,
      divFactor = 25,
      finalDivFactor = 1e4,
      threePhase = false,
    } = options;
    this.totalSteps = checkInteger(who, 'totalSteps', totalSteps, 1);
    checkInRange(who, 'pctStart', pctStart, 0, 1, true);
    this.anneal = checkOneOf(who, 'annealStrategy', annealStrategy, ['cos', 'linear'] as const) === 'cos' ? annealCos : annealLinear;
    checkPositive(who, 'divFactor', divFactor);
    checkPositive(who, 'finalDivFactor', finalDivFactor);
    checkBoolean(who, 'cycleMomentum', cycleMomentum);
    checkBoolean(who, 'threePhase', threePhase);
    const groups = this.optimizer.paramGroups;
    this.phases = phasesOf(who, totalSteps, pctStart, threePhase);
    this.lrs = perGroup(who, 'maxLr', maxLr, groups.length).map((max) => {
      const initial = max / divFactor;
      return { initial, max, min: initial / finalDivFactor };
    });
    // As PyTorch, the cycle starts from maxLr / divFactor, which becomes each group's initialLr.
    groups.forEach((g, i) => (g.initialLr = this.lrs[i]!.initial));
    this.baseLrs = this.lrs.map((l) => l.initial);
    this.useBeta1 = groups.map((g) => Array.isArray(hyper(g).betas));
    this.momenta = cycleMomentum ? this.momentumRanges(baseMomentum, maxMomentum) : null;
    this.stepTo(0);
  }

  /** Each group's momentum range, checking that its optimizer has a momentum (or betas) to cycle. */
  private momentumRanges(baseMomentum: number | readonly number[], maxMomentum: number | readonly number[]): { base: number; max: number }[] {
    const who = 'OneCycleLR';
    const groups = this.optimizer.paramGroups;
    groups.forEach((g, i) => {
      if (!this.useBeta1[i] && typeof hyper(g).momentum !== 'number') {
        throw new TypeError(
          `${who}: cycleMomentum needs an optimizer with momentum or betas (SGD, RMSprop, Adam, ...), ${this.optimizer.name} has neither; pass cycleMomentum: false`,
        );
      }
    });
    const base = perGroup(who, 'baseMomentum', baseMomentum, groups.length);
    const max = perGroup(who, 'maxMomentum', maxMomentum, groups.length);
    return base.map((b, i) => ({ base: b, max: max[i]! }));
  }

  /** The phase holding `epoch` and how far through it `epoch` is (0 to 1). */
  private phaseAt(epoch: number): [Phase, number] {
    if (epoch > this.totalSteps) throw new RangeError(`OneCycleLR: tried to step ${epoch} times; totalSteps is ${this.totalSteps}`);
    let start = 0;
    for (const [i, phase] of this.phases.entries()) {
      if (epoch <= phase.end || i === this.phases.length - 1) return [phase, (epoch - start) / (phase.end - start)];
      start = phase.end;
    }
    throw new Error('OneCycleLR: unreachable');
  }

  lrAt(epoch: number, _baseLr: number, group: number): number {
    const [phase, pct] = this.phaseAt(epoch);
    const l = this.lrs[group]!;
    return this.anneal(l[phase.lr[0]], l[phase.lr[1]], pct);
  }

  /** The momentum (or beta1) of a group at `epoch`. */
  momentumAt(epoch: number, group: number): number {
    if (!this.momenta) throw new RangeError('OneCycleLR: momentumAt needs cycleMomentum');
    const [phase, pct] = this.phaseAt(epoch);
    const m = this.momenta[group]!;
    return this.anneal(m[phase.momentum[0]], m[phase.momentum[1]], pct);
  }

  override stepTo(epoch: number): void {
    super.stepTo(epoch);
    if (!this.momenta) return;
    this.optimizer.paramGroups.forEach((g, i) => {
      const m = this.momentumAt(epoch, i);
      const group = hyper(g);
      if (this.useBeta1[i]) group.betas = [m, (group.betas as number[])[1]!];
      else group.momentum = m;
    });
  }
}
