/** Turn a resolved run configuration into a model, an optimizer, a schedule, a loss and loaders. */
import type { Tensor } from '../core/tensor.js';
import { DataLoader } from '../data/loader.js';
import type { Dataset } from '../data/dataset.js';
import { mlp, Sequential } from '../nn/container.js';
import { crossEntropy } from '../nn/classification.js';
import { ACTIVATION_CHOICES, type ActivationName } from '../nn/registry.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { planModelFromSpec } from './model-spec.js';
import { clipGradNorm } from '../optim/clip.js';
import { OPTIMIZERS, SCHEDULERS } from '../optim/registry.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Scheduler } from '../train/types.js';
import type { CliData } from './data.js';
import { UsageError } from './errors.js';
import type { ModelInfo, TrainConfig } from './types.js';

export type { ModelInfo } from './types.js';

/**
 * A model's sizes, known before anything is allocated (see LayerPlan: numbers, float32 each):
 * `params` trainable numbers; per example, `saved` values kept for the backward pass and
 * `scratch` the largest temporary work area of one layer. `build` makes the model.
 */
export interface ModelPlan {
  params: number;
  saved: number;
  scratch: number;
  build: () => Module;
}

/** linear | mlp:H1,H2,... | cnn | a layer spec, planned from the spec and the data's sizes alone. */
export function planModel(spec: string, info: Omit<ModelInfo, 'spec'>): ModelPlan {
  if (!(ACTIVATION_CHOICES as readonly string[]).includes(info.activation))
    throw new UsageError(`--activation must be one of ${ACTIVATION_CHOICES.join(', ')}, got ${JSON.stringify(info.activation)}`);
  const { inputSize: n, numClasses: k } = info;
  if (spec === 'linear') return { params: n * k + k, saved: k, scratch: 0, build: () => new Sequential(new Linear(n, k)) };
  const m = /^mlp:(\d+(?:,\d+)*)$/.exec(spec);
  if (m) {
    const hidden = m[1]!.split(',').map(Number);
    if (hidden.some((h) => !Number.isSafeInteger(h) || h <= 0)) throw new UsageError(`--model ${spec}: hidden sizes must be positive integers`);
    const sizes = [n, ...hidden, k];
    let params = 0;
    for (let i = 0; i + 1 < sizes.length; i++) params += sizes[i]! * sizes[i + 1]! + sizes[i + 1]!;
    // each hidden layer keeps its Linear output and its activation (and a dropout output and mask)
    const saved = hidden.reduce((s, h) => s + h * (info.dropout > 0 ? 4 : 2), 0) + k;
    return { params, saved, scratch: 0, build: () => mlp(sizes, { activation: info.activation as ActivationName, dropout: info.dropout }) };
  }
  const layers = planModelFromSpec(spec, info);
  if (layers) {
    return {
      params: layers.reduce((s, l) => s + l.params, 0),
      saved: layers.reduce((s, l) => s + l.saved, 0),
      scratch: layers.reduce((s, l) => Math.max(s, l.scratch), 0),
      build: () => {
        const net = new Sequential();
        for (const l of layers) net.append(l.make());
        return net;
      },
    };
  }
  throw new UsageError(
    `--model: unknown model ${JSON.stringify(spec)}; expected linear, mlp:H1,H2,... (e.g. mlp:512,256), cnn, or a layer spec such as conv:32x3,pool:2,flatten,dense:128`,
  );
}

export function buildModel(spec: string, info: Omit<ModelInfo, 'spec'>): Module {
  return planModel(spec, info).build();
}

export function buildOptimizer(cfg: TrainConfig, params: Tensor[]): Optimizer {
  return OPTIMIZERS[cfg.optimizer](params, cfg);
}

/** The run's schedule, sized by its updates: ceil(batches per epoch / accumulate) per epoch. */
export function buildScheduler(cfg: TrainConfig, opt: Optimizer, batchesPerEpoch: number): { scheduler?: Scheduler; interval: 'step' | 'epoch' } {
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / cfg.accumulate);
  return SCHEDULERS[cfg.schedule](opt, { epochs: cfg.epochs, stepsPerEpoch, lr: cfg.lr, warmupEpochs: cfg.warmupEpochs });
}

/** Cross-entropy, mean over the batch by default; per-example ('none') for gradient statistics and DP-SGD. */
export function lossFor(cfg: Pick<TrainConfig, 'labelSmoothing'>): (out: Tensor, y: Tensor, o?: { reduction?: 'mean' | 'sum' | 'none' }) => Tensor {
  const labelSmoothing = cfg.labelSmoothing ?? 0;
  return (out, y, o) => crossEntropy(out, y, { labelSmoothing, ...o });
}

export function clipper(maxNorm: number): (g: Map<Tensor, Tensor>) => Map<Tensor, Tensor> {
  return (g) => clipGradNorm(g, maxNorm).grads;
}

/** With `shard` (data parallelism), training and validation take this rank's share; `test` is always the whole split. */
export function makeLoaders(
  d: CliData,
  cfg: Pick<TrainConfig, 'batchSize'>,
  shard?: { rank: number; size: number },
): { train: DataLoader; validation?: DataLoader; test: DataLoader } {
  return {
    train: new DataLoader(d.train, { batchSize: cfg.batchSize, shuffle: true, shard }),
    validation: d.val || shard ? new DataLoader(d.val ?? d.test, { batchSize: 512, shard }) : undefined,
    test: testLoader(d, 512),
  };
}

export function testLoader(d: { test: Dataset }, batchSize: number): DataLoader {
  return new DataLoader(d.test, { batchSize });
}
