/** Turn a resolved run configuration into a model, an optimizer, a schedule, a loss and loaders. */
import type { Tensor } from '../core/tensor.js';
import { DataLoader } from '../data/loader.js';
import type { Dataset } from '../data/dataset.js';
import { crossEntropy } from '../nn/classification.js';
import type { ActivationName } from '../nn/container.js';
import { mlp, Sequential } from '../nn/container.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { planModelFromSpec } from './model-spec.js';
import { Adagrad, Adam, AdamW, CosineAnnealingLR, ExponentialLR, LinearLR, OneCycleLR, ReduceLROnPlateau, RMSprop, SequentialLR, SGD, StepLR, clipGradNorm } from '../optim/index.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Scheduler } from '../train/types.js';
import type { CliData } from './data.js';
import { UsageError } from './errors.js';
import type { TrainConfig } from './train-cmd.js';

/** What checkpoint.json records so that `evaluate` and `predict` can rebuild the model. */
export interface ModelInfo {
  spec: string;
  inputSize: number;
  numClasses: number;
  activation: string;
  dropout: number;
  imageShape?: number[];
}

const ACTIVATIONS: readonly string[] = ['relu', 'leakyRelu', 'elu', 'gelu', 'tanh', 'sigmoid', 'softplus'];

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
  if (!ACTIVATIONS.includes(info.activation)) throw new UsageError(`--activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(info.activation)}`);
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
  throw new UsageError(`--model: unknown model ${JSON.stringify(spec)}; expected linear, mlp:H1,H2,... (e.g. mlp:512,256), cnn, or a layer spec such as conv:32x3,pool:2,flatten,dense:128`);
}

export function buildModel(spec: string, info: Omit<ModelInfo, 'spec'>): Module {
  return planModel(spec, info).build();
}

export function buildOptimizer(cfg: TrainConfig, params: Tensor[]): Optimizer {
  const { lr, weightDecay } = cfg;
  switch (cfg.optimizer) {
    case 'sgd': return new SGD(params, { lr, momentum: cfg.momentum, nesterov: cfg.nesterov && cfg.momentum > 0, weightDecay });
    case 'adam': return new Adam(params, { lr, weightDecay });
    case 'adamw': return new AdamW(params, { lr, weightDecay });
    case 'rmsprop': return new RMSprop(params, { lr, weightDecay, momentum: cfg.momentum });
    case 'adagrad': return new Adagrad(params, { lr, weightDecay });
  }
}

/**
 * Schedules that change the rate every update (cosine, warm-up, one-cycle) step per update; the
 * others per epoch. Counting updates: ceil(batches per epoch / accumulate) per epoch.
 */
export function buildScheduler(cfg: TrainConfig, opt: Optimizer, batchesPerEpoch: number): { scheduler?: Scheduler; interval: 'step' | 'epoch' } {
  const perEpoch = Math.ceil(batchesPerEpoch / cfg.accumulate);
  const total = Math.max(1, perEpoch * cfg.epochs);
  switch (cfg.schedule) {
    case 'none': return { interval: 'epoch' };
    case 'step': return { scheduler: new StepLR(opt, Math.max(1, Math.round(cfg.epochs / 3)), 0.1), interval: 'epoch' };
    case 'exponential': return { scheduler: new ExponentialLR(opt, 0.9), interval: 'epoch' };
    case 'plateau': return { scheduler: new ReduceLROnPlateau(opt, { patience: 2, factor: 0.1 }), interval: 'epoch' };
    case 'cosine': return { scheduler: new CosineAnnealingLR(opt, total), interval: 'step' };
    case 'onecycle': return { scheduler: new OneCycleLR(opt, cfg.lr, total), interval: 'step' };
    case 'warmup-cosine': {
      const warm = Math.min(total - 1, cfg.warmupEpochs * perEpoch);
      if (warm < 1) return { scheduler: new CosineAnnealingLR(opt, total), interval: 'step' };
      const warmup = new LinearLR(opt, { startFactor: 0.01, endFactor: 1, totalIters: warm });
      const cosine = new CosineAnnealingLR(opt, total - warm);
      return { scheduler: new SequentialLR(opt, [warmup, cosine], [warm]), interval: 'step' };
    }
  }
}

/** Cross-entropy, mean over the batch by default; per-example ('none') for gradient statistics and DP-SGD. */
export function lossFor(cfg: Pick<TrainConfig, 'labelSmoothing'>): (out: Tensor, y: Tensor, o?: { reduction?: 'mean' | 'sum' | 'none' }) => Tensor {
  const labelSmoothing = cfg.labelSmoothing ?? 0;
  return (out, y, o) => crossEntropy(out, y, { labelSmoothing, ...o });
}

export function clipper(maxNorm: number): (g: Map<Tensor, Tensor>) => Map<Tensor, Tensor> {
  return (g) => clipGradNorm(g, maxNorm).grads;
}

export function makeLoaders(d: CliData, cfg: Pick<TrainConfig, 'batchSize'>): { train: DataLoader; validation?: DataLoader; test: DataLoader } {
  return {
    train: new DataLoader(d.train, { batchSize: cfg.batchSize, shuffle: true }),
    validation: d.val ? new DataLoader(d.val, { batchSize: 512 }) : undefined,
    test: testLoader(d, 512),
  };
}

export function testLoader(d: { test: Dataset }, batchSize: number): DataLoader {
  return new DataLoader(d.test, { batchSize });
}
