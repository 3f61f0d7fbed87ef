/**
 * Optimizers and learning-rate schedules, by name: one list that callers (the CLI's --optimizer
 * and --schedule, --config files, help text) derive their choices from.
 */
import type { Tensor } from '../core/tensor.js';
import { Adagrad } from './adagrad.js';
import { Adam, AdamW } from './adam.js';
import { OneCycleLR } from './one-cycle.js';
import type { BaseHyper, Optimizer } from './optimizer.js';
import { ReduceLROnPlateau } from './plateau.js';
import { RMSprop } from './rmsprop.js';
import { CosineAnnealingLR, ExponentialLR, LinearLR, StepLR, type LRScheduler } from './schedulers.js';
import { SequentialLR } from './sequential.js';
import { SGD } from './sgd.js';

/** The hyperparameters a named optimizer is made with; each takes those it has (PyTorch's names). */
export interface OptimizerSettings {
  lr: number;
  /** sgd and rmsprop. */
  momentum: number;
  /** sgd, with momentum > 0. */
  nesterov: boolean;
  /** L2 for sgd, adam, rmsprop and adagrad; decoupled for adamw. */
  weightDecay: number;
}

export type OptimizerName = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';

export const OPTIMIZERS: { readonly [K in OptimizerName]: (params: Tensor[], s: OptimizerSettings) => Optimizer<BaseHyper> } = {
  sgd: (params, { lr, momentum, nesterov, weightDecay }) => new SGD(params, { lr, momentum, nesterov: nesterov && momentum > 0, weightDecay }),
  adam: (params, { lr, weightDecay }) => new Adam(params, { lr, weightDecay }),
  adamw: (params, { lr, weightDecay }) => new AdamW(params, { lr, weightDecay }),
  rmsprop: (params, { lr, momentum, weightDecay }) => new RMSprop(params, { lr, weightDecay, momentum }),
  adagrad: (params, { lr, weightDecay }) => new Adagrad(params, { lr, weightDecay }),
};

export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/** What a schedule recipe is sized by: the run's length and its peak rate. */
export interface SchedulePlan {
  epochs: number;
  /** Optimizer updates per epoch. */
  stepsPerEpoch: number;
  /** The optimizer's base learning rate (one-cycle's peak). */
  lr: number;
  /** Linear warm-up length of warmup-cosine, in epochs. */
  warmupEpochs: number;
}

/** A schedule and whether it steps after every update ('step') or every epoch ('epoch'). */
export interface ScheduleRecipe {
  scheduler?: LRScheduler | ReduceLROnPlateau;
  interval: 'step' | 'epoch';
}

export type ScheduleName = 'none' | 'step' | 'cosine' | 'warmup-cosine' | 'onecycle' | 'exponential' | 'plateau';

/**
 * Schedules that change the rate every update (cosine, warm-up, one-cycle) step per update; the
 * others per epoch. total = updates in the whole run.
 */
export const SCHEDULERS: { readonly [K in ScheduleName]: (opt: Optimizer<BaseHyper>, p: SchedulePlan) => ScheduleRecipe } = {
  none: () => ({ interval: 'epoch' }),
  step: (opt, p) => ({ scheduler: new StepLR(opt, Math.max(1, Math.round(p.epochs / 3)), 0.1), interval: 'epoch' }),
  exponential: (opt) => ({ scheduler: new ExponentialLR(opt, 0.9), interval: 'epoch' }),
  plateau: (opt) => ({ scheduler: new ReduceLROnPlateau(opt, { patience: 2, factor: 0.1 }), interval: 'epoch' }),
  cosine: (opt, p) => ({ scheduler: new CosineAnnealingLR(opt, total(p)), interval: 'step' }),
  onecycle: (opt, p) => ({ scheduler: new OneCycleLR(opt, p.lr, total(p)), interval: 'step' }),
  'warmup-cosine': (opt, p) => {
    const all = total(p);
    const warm = Math.min(all - 1, p.warmupEpochs * p.stepsPerEpoch);
    if (warm < 1) return { scheduler: new CosineAnnealingLR(opt, all), interval: 'step' };
    const warmup = new LinearLR(opt, { startFactor: 0.01, endFactor: 1, totalIters: warm });
    const cosine = new CosineAnnealingLR(opt, all - warm);
    return { scheduler: new SequentialLR(opt, [warmup, cosine], [warm]), interval: 'step' };
  },
};

export const SCHEDULE_NAMES = Object.keys(SCHEDULERS) as ScheduleName[];

function total(p: SchedulePlan): number {
  return Math.max(1, p.stepsPerEpoch * p.epochs);
}
