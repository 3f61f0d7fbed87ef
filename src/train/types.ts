/**
 * What the trainer needs from a model, an optimizer, a scheduler and a data loader, stated as
 * shapes rather than classes: any object with these members works (the library's own Module,
 * Optimizer, LRScheduler and DataLoader all do).
 */
import type { Tensor } from '../core/tensor.js';

export interface TrainableModel {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  train(mode?: boolean): unknown;
  eval(): unknown;
  readonly training: boolean;
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor>, strict?: boolean): void;
}

export interface OptimizerStateLike {
  tensors: Record<string, Tensor>;
  meta: unknown;
}

export interface StepOptimizer {
  step(grads: Map<Tensor, Tensor>): void;
  /**
   * The state to checkpoint. With `{ copy: false }` an optimizer may return views of its state
   * instead of copies, valid after later steps (the library's optimizers do); the trainer disposes
   * what it gets either way.
   */
  stateDict(options?: { copy?: boolean }): OptimizerStateLike;
  loadStateDict(state: OptimizerStateLike): void;
  readonly paramGroups: readonly { lr: number }[];
}

export interface Scheduler {
  step(metric?: number): void;
  stateDict(): unknown;
  loadStateDict(state: never): void;
}

export interface BatchLoader {
  [Symbol.iterator]?(): Iterator<Tensor[]>;
  [Symbol.asyncIterator]?(): AsyncIterator<Tensor[]>;
  readonly length: number;
  getState?(): unknown;
  setState?(state: never): void;
}

/** A part of a run with state of its own (a noise generator, a statistics hook), saved in checkpoints. */
export interface Stateful {
  stateDict(): unknown;
  loadStateDict(state: unknown): void;
}

/** One micro-batch and what it is trained with. */
export interface BatchContext {
  model: TrainableModel;
  loss: LossFn;
  x: Tensor;
  y: Tensor;
  params: Tensor[];
}

/**
 * A loss of (model output, target), reduced to the batch mean. Per-example gradients and
 * statistics call it again with `{ reduction: 'none' }` as a third argument: losses that honour it
 * (the library's do) need no separate per-example loss.
 */
export type LossFn = (output: Tensor, target: Tensor) => Tensor;

export interface StepMetrics {
  epoch: number;
  /** Optimizer updates made so far (1-based after the first). */
  step: number;
  /** Mean loss of the micro-batch (under data parallelism, at an update: its mean over every rank's examples). */
  loss: number;
  /** Examples in the micro-batch. */
  examples: number;
  /** Correct predictions in the micro-batch (classification), else undefined. */
  correct?: number;
  lr: number;
  /** Global L2 norm of the (accumulated, averaged) gradient at the last update. */
  gradNorm?: number;
  /** Micro-batches done in this epoch, and how many there are. */
  batch: number;
  batches: number;
}

export interface EpochMetrics {
  /** Metrics other than the loss and accuracy (fit's `metrics` option), by name. */
  [metric: `train_${string}` | `val_${string}`]: number | undefined;
  epoch: number;
  step: number;
  train_loss: number;
  train_accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
  lr: number;
  seconds: number;
  examples_per_second: number;
}

export interface Callback {
  onTrainBegin?(info: { epochs: number; startEpoch: number; batchesPerEpoch: number }): void;
  onEpochBegin?(epoch: number): void;
  /** Return 'stop' to end training after this step. */
  onStepEnd?(m: StepMetrics): void | 'stop';
  /** Return 'stop' to end training after this epoch. */
  onEpochEnd?(m: EpochMetrics): void | 'stop';
  onTrainEnd?(result: FitResult): void;
}

export interface Divergence {
  step: number;
  epoch: number;
  /** What was not finite: the loss or the gradient. */
  what: 'loss' | 'gradient';
  lastFiniteLoss: number | null;
  lastFiniteStep: number | null;
  message: string;
  /** Where the last good weights were saved, when the run has an output folder. */
  savedTo?: string;
}

export interface FitResult {
  epochs: EpochMetrics[];
  steps: number;
  seconds: number;
  stoppedEarly: boolean;
  /** The run's AbortSignal stopped it (within one step). */
  aborted: boolean;
  diverged?: Divergence;
}
