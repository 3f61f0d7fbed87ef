/**
 * Types shared by the CLI's modules. This module imports none of them (only library types), so
 * sharing a type never makes an import cycle.
 */
import type { ActivationName } from '../nn/registry.js';
import type { OptimizerName, ScheduleName } from '../optim/registry.js';

/**
 * Every option of a run, resolved and validated; written to the run folder as config.json and
 * into checkpoints (older checkpoints may lack the newer fields: readers take their defaults).
 */
export interface TrainConfig {
  data: string;
  /** Read the training split of an IDX folder from disk batch by batch; absent in older checkpoints (false). */
  stream: boolean;
  model: string;
  activation: ActivationName;
  dropout: number;
  /** Under MPI: BatchNorm layers become SyncBatchNorm over the ranks; absent in older checkpoints (false). */
  syncBn: boolean;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  schedule: ScheduleName;
  warmupEpochs: number;
  accumulate: number;
  clipGradNorm?: number;
  labelSmoothing: number;
  valSplit: number;
  earlyStopping?: number;
  labelColumn: string;
  /** CSV: whether the first line is a header; absent: it is if one of its cells is not a number. */
  header?: boolean;
  /** CSV: read empty, NaN and infinite feature cells instead of failing. */
  allowNan: boolean;
  /** Bytes training may use at most (below what the backend can hold); checked from sizes before the model is built. */
  maxMemory?: number;
  seed: number;
  out: string;
  logEvery: number;
  gradStats?: number;
  dpClip?: number;
  dpNoise?: number;
  /** Where the run computed ('js', 'wasm'); absent in checkpoints written before it was recorded. */
  backend?: string;
  /** Threads the backend used (1 for js); absent in older checkpoints. */
  threads?: number;
  /** MPI ranks the run trained on (data-parallel); absent: one process. */
  ranks?: number;
  /** Examples per update over all ranks: batchSize x accumulate x ranks (with ranks). */
  globalBatch?: number;
}

/** What checkpoint.json records so that `evaluate` and `predict` can rebuild the model. */
export interface ModelInfo {
  spec: string;
  inputSize: number;
  numClasses: number;
  activation: string;
  dropout: number;
  imageShape?: number[];
}
