/**
 * What the learner chooses: the data, the network, the loss, the optimizer, the learning rate, the
 * batch size and the seed. One list of choices here feeds the controls, the URL (?dataset=spirals
 * &seed=0 ...) and the defaults of each data set, so the three cannot drift apart.
 */
import { DATASETS } from './datasets.js';
import type { DatasetName } from './datasets.js';

export const ACTIVATIONS = ['tanh', 'relu', 'leakyRelu', 'gelu', 'sigmoid', 'identity'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export const LOSSES = ['cross-entropy', 'mse'] as const;
export type LossName = (typeof LOSSES)[number];
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const LEARNING_RATES = [0.001, 0.003, 0.01, 0.02, 0.03, 0.1, 0.3, 1, 3, 10, 30] as const;
/** Points per data set, train and test together. */
export const POINTS = 500;
export const MAX_LAYERS = 4;
export const MAX_WIDTH = 64;

export interface Config {
  dataset: DatasetName;
  /** 0 to 0.5. */
  noise: number;
  /** Percent of the points used for training, 10 to 90. */
  trainPercent: number;
  /** Widths of the hidden layers ([] is a linear model). */
  hidden: number[];
  activation: Activation;
  loss: LossName;
  optimizer: OptimizerName;
  lr: number;
  batchSize: number;
  seed: number;
  /** The loss that the steps-against-examples race trains to. */
  targetLoss: number;
}

type Defaults = Omit<Config, 'dataset' | 'seed'>;

/** Each data set's starting point: a network and settings that learn it in seconds. */
export const DEFAULTS: Record<DatasetName, Defaults> = {
  circles: {
    noise: 0.1,
    trainPercent: 50,
    hidden: [8],
    activation: 'tanh',
    loss: 'cross-entropy',
    optimizer: 'momentum',
    lr: 0.1,
    batchSize: 16,
    targetLoss: 0.3,
  },
  xor: {
    noise: 0.05,
    trainPercent: 50,
    hidden: [8],
    activation: 'tanh',
    loss: 'cross-entropy',
    optimizer: 'momentum',
    lr: 0.1,
    batchSize: 16,
    targetLoss: 0.3,
  },
  spirals: {
    noise: 0.05,
    trainPercent: 50,
    hidden: [32, 32],
    activation: 'tanh',
    loss: 'cross-entropy',
    optimizer: 'adam',
    lr: 0.03,
    batchSize: 32,
    targetLoss: 0.67,
  },
  blobs: { noise: 0.2, trainPercent: 50, hidden: [4], activation: 'tanh', loss: 'cross-entropy', optimizer: 'sgd', lr: 0.3, batchSize: 16, targetLoss: 0.1 },
  regression: { noise: 0.1, trainPercent: 50, hidden: [16, 16], activation: 'tanh', loss: 'mse', optimizer: 'adam', lr: 0.01, batchSize: 16, targetLoss: 0.05 },
};

export function defaultConfig(dataset: DatasetName = 'spirals', seed = 0): Config {
  const d = DEFAULTS[dataset];
  return { dataset, seed, ...d, hidden: [...d.hidden] };
}

/** Training points of a configuration. */
export function trainCount(c: Pick<Config, 'trainPercent'>): number {
  return Math.max(2, Math.min(POINTS - 1, Math.round((POINTS * c.trainPercent) / 100)));
}

/** The batch sizes the slider offers: powers of two below the training set, then the full batch. */
export function batchLadder(n: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < n; b *= 2) out.push(b);
  out.push(n);
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const finite = (s: string | null): number | undefined => (s === null || s.trim() === '' || !Number.isFinite(Number(s)) ? undefined : Number(s));

/** Parse hidden widths written '32,32' or '32 32' ('' is no hidden layer); undefined when malformed. */
export function parseWidths(text: string): number[] | undefined {
  const parts = text.split(/[\s,]+/).filter((s) => s !== '');
  const ws = parts.map(Number);
  if (ws.length > MAX_LAYERS || ws.some((w) => !Number.isInteger(w) || w < 1 || w > MAX_WIDTH)) return undefined;
  return ws;
}

function oneOf<T extends string>(list: readonly T[], v: string | null): T | undefined {
  return list.find((x) => x === v);
}

/**
 * A configuration from URL parameters: the data set's defaults, overridden by each parameter
 * given (values out of range are clamped, unknown names ignored).
 */
export function configFromParams(p: URLSearchParams): Config {
  const dataset = oneOf(DATASETS, p.get('dataset')) ?? 'spirals';
  const c = defaultConfig(dataset, Math.max(0, Math.floor(finite(p.get('seed')) ?? 0)));
  const num = (name: string) => finite(p.get(name));
  c.noise = clamp(num('noise') ?? c.noise, 0, 0.5);
  c.trainPercent = clamp(Math.round(num('train') ?? c.trainPercent), 10, 90);
  const hidden = p.get('hidden');
  if (hidden !== null) c.hidden = parseWidths(hidden) ?? c.hidden;
  c.activation = oneOf(ACTIVATIONS, p.get('activation')) ?? c.activation;
  c.loss = dataset === 'regression' ? 'mse' : (oneOf(LOSSES, p.get('loss')) ?? c.loss);
  c.optimizer = oneOf(OPTIMIZERS, p.get('optimizer')) ?? c.optimizer;
  const lr = num('lr');
  if (lr !== undefined && lr > 0) c.lr = lr;
  c.batchSize = clamp(Math.round(num('batch') ?? c.batchSize), 1, trainCount(c));
  const t = num('target');
  if (t !== undefined && t > 0) c.targetLoss = t;
  return c;
}

/** The URL parameters that give back this configuration. */
export function configToParams(c: Config): URLSearchParams {
  return new URLSearchParams({
    dataset: c.dataset,
    noise: String(c.noise),
    train: String(c.trainPercent),
    hidden: c.hidden.join(','),
    activation: c.activation,
    loss: c.loss,
    optimizer: c.optimizer,
    lr: String(c.lr),
    batch: String(c.batchSize),
    seed: String(c.seed),
    target: String(c.targetLoss),
  });
}

/** What the data, the network and its starting weights depend on: a change to any of these starts over. */
export function setupKey(c: Config): string {
  return JSON.stringify([c.dataset, c.noise, c.trainPercent, c.hidden, c.activation, c.loss, c.seed]);
}
