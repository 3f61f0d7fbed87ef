/**
 * The memory a training run needs, estimated from sizes before anything is allocated, so that a
 * model or a batch too large for the backend is a one-line error (exit 2) instead of an
 * out-of-memory crash halfway through building it.
 */
import { totalmem } from 'node:os';
import { getBackend } from '../backend/index.js';
import { runtime } from '../backend/wasm/runtime.js';
import { planModel, type ModelPlan } from './build.js';
import type { CliData } from './data.js';
import { UsageError } from './errors.js';
import type { TrainConfig } from './types.js';

/** Every tensor of a run is float32 (labels int32): four bytes a number. */
const BYTES = 4;

/** State tensors the optimizer keeps per parameter (PyTorch's: momentum buffer, Adam's two moments, ...). */
export function optimizerStateCount(cfg: Pick<TrainConfig, 'optimizer' | 'momentum'>): number {
  switch (cfg.optimizer) {
    case 'sgd':
      return cfg.momentum > 0 ? 1 : 0;
    case 'adam':
    case 'adamw':
      return 2;
    case 'rmsprop':
      return cfg.momentum > 0 ? 2 : 1;
    case 'adagrad':
      return 1;
  }
}

export interface MemoryEstimate {
  /** Trainable numbers of the model. */
  parameters: number;
  /** Bytes in all: the sum of the parts. */
  bytes: number;
  parts: {
    /** Parameters, their gradients (and the accumulated gradients with --accumulate > 1). */
    weights: number;
    /** Optimizer state, and its copy while a checkpoint is written. */
    optimizer: number;
    /** One batch: inputs, the values kept for the backward pass and their gradients, the largest work area, the loss. */
    activations: number;
    /** The data set's features and labels (with --stream, the test split's only). */
    data: number;
  };
}

export interface MemoryInputs {
  plan: Pick<ModelPlan, 'params' | 'saved' | 'scratch'>;
  inputSize: number;
  numClasses: number;
  /** Examples in one batch (at most the training examples). */
  batchSize: number;
  /** State tensors per parameter (optimizerStateCount). */
  optimizerStates: number;
  accumulate: number;
  /** Examples held in memory: train, validation and test together (with --stream, test only). */
  examples: number;
}

/**
 * Bytes a training run needs, from sizes alone. Per parameter: the value and its gradient (and an
 * accumulated gradient with accumulate > 1), plus the optimizer's state tensors twice over (they
 * are copied when a checkpoint is written). Per example of a batch: the input and every value the
 * layers keep for the backward pass, twice (the backward pass makes a gradient of each), the
 * largest work area twice (a convolution's unfolded input and its gradient), and three rows of
 * numClasses for the loss (log-probabilities, probabilities, their gradient). Plus the data.
 */
export function estimateTrainingMemory(o: MemoryInputs): MemoryEstimate {
  const p = o.plan.params;
  const weights = p * (o.accumulate > 1 ? 3 : 2) * BYTES;
  const optimizer = 2 * o.optimizerStates * p * BYTES;
  const activations = o.batchSize * (2 * (o.inputSize + o.plan.saved) + 2 * o.plan.scratch + 3 * o.numClasses) * BYTES;
  const data = o.examples * (o.inputSize + 1) * BYTES;
  return { parameters: p, bytes: weights + optimizer + activations + data, parts: { weights, optimizer, activations, data } };
}

/** What the current backend can hold: the wasm heap's maximum size, else the machine's memory. */
export function backendMemoryLimit(): { bytes: number; what: string } {
  const name = getBackend().name;
  if (name === 'wasm') {
    const heap = runtime().heap;
    return { bytes: heap.maximumPages * 65536, what: 'the wasm backend can hold' };
  }
  return { bytes: totalmem(), what: `this machine has (the ${name} backend)` };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 -> "1.5 KiB": three significant digits. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'an unbounded amount';
  let u = 0;
  while (bytes >= 1024 && u < UNITS.length - 1) {
    bytes /= 1024;
    u++;
  }
  return `${u === 0 ? bytes : Number(bytes.toPrecision(3))} ${UNITS[u]}`;
}

/** A size for --max-memory: bytes (1073741824, 1e9), or a number with K, M, G or T (powers of 1024; KB, KiB and lower case too). */
export function parseByteSize(flag: string, v: unknown): number {
  const m =
    typeof v === 'number'
      ? [String(v), String(v), '']
      : typeof v === 'string'
        ? /^\s*(\d+(?:\.\d+)?(?:e\+?\d+)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(v)
        : null;
  const bytes = m ? Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase())) : NaN;
  if (!(Number.isFinite(bytes) && bytes > 0)) throw new UsageError(`${flag} must be a size like 512M, 2G or a number of bytes, got ${JSON.stringify(v)}`);
  return bytes;
}

/**
 * Throws a UsageError when training cfg.model on the data needs more memory than the backend can
 * hold or than cfg.maxMemory. Only the model's spec is read: nothing is allocated.
 */
export function checkTrainingMemory(
  cfg: Pick<TrainConfig, 'model' | 'activation' | 'dropout' | 'optimizer' | 'momentum' | 'batchSize' | 'accumulate' | 'maxMemory'>,
  data: CliData,
): MemoryEstimate {
  const plan = planModel(cfg.model, {
    inputSize: data.inputSize,
    numClasses: data.numClasses,
    activation: cfg.activation,
    dropout: cfg.dropout,
    imageShape: data.imageShape,
  });
  const batch = Math.min(cfg.batchSize, data.train.length);
  const est = estimateTrainingMemory({
    plan,
    inputSize: data.inputSize,
    numClasses: data.numClasses,
    batchSize: batch,
    optimizerStates: optimizerStateCount(cfg),
    accumulate: cfg.accumulate,
    // --stream: the training and validation examples stay on disk (a batch at a time, counted with the activations).
    examples: data.streamed ? data.test.length : data.train.length + (data.val?.length ?? 0) + data.test.length,
  });
  const backend = backendMemoryLimit();
  const limit = cfg.maxMemory !== undefined && cfg.maxMemory < backend.bytes ? { bytes: cfg.maxMemory, what: 'set by --max-memory' } : backend;
  if (!(est.bytes <= limit.bytes)) {
    const { weights, optimizer, activations, data: d } = est.parts;
    throw new UsageError(
      `--model ${cfg.model}: training needs about ${formatBytes(est.bytes)} (${est.parameters.toLocaleString('en-US')} parameters for ${data.inputSize.toLocaleString('en-US')} inputs and ${data.numClasses.toLocaleString('en-US')} classes: ${formatBytes(weights)} with their gradients, ${formatBytes(optimizer)} of ${cfg.optimizer} state; a batch of ${batch}: ${formatBytes(activations)}; the data: ${formatBytes(d)}), more than the ${formatBytes(limit.bytes)} ${limit.what}`,
    );
  }
  return est;
}
