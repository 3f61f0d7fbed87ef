/**
 * Messages between the page and its measuring workers. A worker rebuilds the page's problem and
 * network from the configuration (the same seed gives the same points and starting weights),
 * takes the page's current weights, and measures without holding up training.
 */
import type { Config } from './config.js';
import type { Landscape } from './landscape.js';
import type { PoolNoise, VariancePoint } from './noise.js';

export interface TradeoffJob {
  target: number;
  batchSizes: number[];
  lrs: number[];
  maxSteps: number;
}

export type Job =
  /** The noise at these weights; with `measure`, also measured variances (at least minBatches per batch size). */
  | { kind: 'noise'; id: number; config: Config; step: number; weights: Float64Array; measure: { minBatches: number; seed: number } | null }
  /** The loss landscape through `center`, along the directions the path moved most. */
  | { kind: 'landscape'; id: number; config: Config; step: number; center: Float64Array; path: Float64Array[]; size: number }
  /** Steps and examples to a target loss at several batch sizes, from the starting weights (plain SGD). */
  | ({ kind: 'tradeoff'; id: number; config: Config } & TradeoffJob);

export interface TradeoffReply extends TradeoffJob {
  points: { batch_size: number; lr: number; steps: number; examples: number; predicted_steps: number }[];
  s_min: number;
  e_min: number;
  b_crit: number;
  /** Batch sizes that did not reach the target within maxSteps at any learning rate tried. */
  missed: number[];
  seconds: number;
}

export type Reply =
  | { kind: 'noise'; id: number; step: number; pool: PoolNoise; points: VariancePoint[]; done: boolean; seconds: number }
  | { kind: 'landscape'; id: number; step: number; landscape: Landscape; seconds: number }
  | ({ kind: 'tradeoff'; id: number } & TradeoffReply)
  | { kind: 'error'; id: number; job: Job['kind']; message: string };
