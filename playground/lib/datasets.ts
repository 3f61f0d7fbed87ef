/**
 * The data sets of the playground: four 2-D classification sets (two classes) and one 1-D
 * regression, in the spirit of TensorFlow Playground's. Every point comes from Descent's seeded
 * generator (xoshiro128**), so a seed gives the same points in every browser and in Node.
 * Coordinates lie in about [-1, 1]; `noise` (0 to 0.5) blurs them as a fraction of that range.
 */
import { Generator } from 'descent';

export const DATASETS = ['circles', 'xor', 'spirals', 'blobs', 'regression'] as const;
export type DatasetName = (typeof DATASETS)[number];

export const DATASET_LABELS: Record<DatasetName, string> = {
  circles: 'Circles',
  xor: 'XOR',
  spirals: 'Two spirals',
  blobs: 'Gaussian blobs',
  regression: '1-D regression',
};

/** Points and their targets: `x` holds n rows of `dims` coordinates; `y` a class (0/1) or a value. */
export interface Points {
  dims: 1 | 2;
  x: Float64Array;
  y: Float64Array;
  n: number;
}

export interface DataSet {
  name: DatasetName;
  task: 'classification' | 'regression';
  train: Points;
  test: Points;
}

export interface DataOptions {
  name: DatasetName;
  /** Points in all, train and test together. */
  points: number;
  /** 0 to 0.5. */
  noise: number;
  /** Fraction of the points used for training (the rest are the test points), 0.1 to 0.9. */
  trainFraction: number;
  seed: number;
}

/** A standard normal draw (Box-Muller through the generator's own fillNormal). */
function normal(gen: Generator): number {
  const z = new Float64Array(1);
  gen.fillNormal(z);
  return z[0]!;
}

const uniform = (gen: Generator, lo: number, hi: number) => lo + (hi - lo) * gen.nextFloat64();

type Maker = (gen: Generator, n: number, noise: number) => { x: number[]; y: number[] };

/** Inner disc (class 1) inside a ring (class 0); noise jitters both coordinates. */
const circles: Maker = (gen, n, noise) => {
  const x: number[] = [],
    y: number[] = [];
  for (let i = 0; i < n; i++) {
    const inner = i % 2 === 0;
    const r = inner ? uniform(gen, 0, 0.5) : uniform(gen, 0.7, 1);
    const a = uniform(gen, 0, 2 * Math.PI);
    x.push(r * Math.sin(a) + uniform(gen, -1, 1) * noise, r * Math.cos(a) + uniform(gen, -1, 1) * noise);
    y.push(inner ? 1 : 0);
  }
  return { x, y };
};

/** Four quadrants: class 1 where the coordinates have the same sign (labels from the clean point). */
const xor: Maker = (gen, n, noise) => {
  const x: number[] = [],
    y: number[] = [];
  const pad = 0.06;
  for (let i = 0; i < n; i++) {
    let a = uniform(gen, -1, 1),
      b = uniform(gen, -1, 1);
    a += a > 0 ? pad : -pad;
    b += b > 0 ? pad : -pad;
    x.push((a + uniform(gen, -1, 1) * noise) / (1 + pad), (b + uniform(gen, -1, 1) * noise) / (1 + pad));
    y.push(a * b > 0 ? 1 : 0);
  }
  return { x, y };
};

/** Two interleaved spirals, 1.75 turns each, radius growing from 0 to 1. */
const spirals: Maker = (gen, n, noise) => {
  const x: number[] = [],
    y: number[] = [];
  const half = Math.ceil(n / 2);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const k = Math.floor(i / 2) / half;
    const t = 1.75 * k * 2 * Math.PI + label * Math.PI;
    x.push(k * Math.sin(t) + uniform(gen, -1, 1) * noise, k * Math.cos(t) + uniform(gen, -1, 1) * noise);
    y.push(label);
  }
  return { x, y };
};

/** Two Gaussian clouds around (0.4, 0.4) and (-0.4, -0.4); noise widens them. */
const blobs: Maker = (gen, n, noise) => {
  const x: number[] = [],
    y: number[] = [];
  const sd = 0.1 + noise * 0.8;
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const c = label === 1 ? 0.4 : -0.4;
    x.push(c + normal(gen) * sd, c + normal(gen) * sd);
    y.push(label);
  }
  return { x, y };
};

/** y = sin(3x) / 1.5 + x / 3 on x in [-1, 1], plus Gaussian noise on y. */
const regression: Maker = (gen, n, noise) => {
  const x: number[] = [],
    y: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = uniform(gen, -1, 1);
    x.push(v);
    y.push(Math.sin(3 * v) / 1.5 + v / 3 + normal(gen) * noise * 0.5);
  }
  return { x, y };
};

const MAKERS: Record<DatasetName, Maker> = { circles, xor, spirals, blobs, regression };

function pick(all: { x: number[]; y: number[] }, dims: 1 | 2, idx: ArrayLike<number>): Points {
  const n = idx.length;
  const x = new Float64Array(n * dims),
    y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    for (let k = 0; k < dims; k++) x[i * dims + k] = all.x[j * dims + k]!;
    y[i] = all.y[j]!;
  }
  return { dims, x, y, n };
}

/** Make a data set: the points, then a seeded shuffle split into train and test. */
export function makeDataset(o: DataOptions): DataSet {
  const gen = new Generator(o.seed);
  const all = MAKERS[o.name](gen, o.points, o.noise);
  const dims = o.name === 'regression' ? 1 : 2;
  const order = gen.permutation(o.points);
  const nTrain = Math.max(2, Math.min(o.points - 1, Math.round(o.points * o.trainFraction)));
  return {
    name: o.name,
    task: o.name === 'regression' ? 'regression' : 'classification',
    train: pick(all, dims, order.subarray(0, nTrain)),
    test: pick(all, dims, order.subarray(nTrain)),
  };
}
