/**
 * From a configuration to tensors, a model and its loss: shared by the page (which trains) and the
 * measuring worker (which rebuilds the same problem from the same configuration and seed). Every
 * tensor is float64, so the identities the playground shows (the mean of the per-example
 * gradients IS the gradient of the mean loss) hold to about 15 digits.
 */
import * as d from 'descent';
import type { Config } from './config.js';
import { POINTS } from './config.js';
import { makeDataset } from './datasets.js';
import type { DataSet, Points } from './datasets.js';

export type Sequential = d.Sequential;
/**
 * The precision of the playground's networks and data. float64: the identities shown hold to the
 * last digit, and these small networks train about as fast as in float32 (their steps cost in
 * per-op overhead, not in arithmetic).
 */
export const DTYPE = 'float64';
export type Tensor = d.Tensor;

/** The data as tensors, with targets in the form the loss wants. */
export interface Problem {
  config: Config;
  data: DataSet;
  classification: boolean;
  inputs: 1 | 2;
  outputs: 1 | 2;
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
}

/** Targets: class labels (int32) for cross-entropy, one-hot rows for MSE on classes, values [n, 1] for regression. */
function targets(p: Points, c: Config, classification: boolean): Tensor {
  if (!classification) return d.tensor(p.y, { shape: [p.n, 1], dtype: DTYPE });
  const labels = d.tensor(Int32Array.from(p.y), { dtype: 'int32' });
  return c.loss === 'cross-entropy' ? labels : d.oneHot(labels, 2, DTYPE);
}

export function buildProblem(c: Config): Problem {
  const data = makeDataset({ name: c.dataset, points: POINTS, noise: c.noise, trainFraction: c.trainPercent / 100, seed: c.seed });
  const classification = data.task === 'classification';
  const inputs = data.train.dims;
  const x = (p: Points) => d.keep(d.tensor(p.x, { shape: [p.n, inputs], dtype: DTYPE }));
  return {
    config: c,
    data,
    classification,
    inputs,
    outputs: classification ? 2 : 1,
    xTrain: x(data.train),
    yTrain: d.keep(targets(data.train, c, classification)),
    xTest: x(data.test),
    yTest: d.keep(targets(data.test, c, classification)),
  };
}

/** The network: Linear layers with the chosen activation between them, PyTorch's initialisation from the seed. */
export function buildModel(p: Problem): Sequential {
  const c = p.config;
  return d.mlp([p.inputs, ...c.hidden, p.outputs], { activation: c.activation, dtype: DTYPE, generator: new d.Generator(c.seed) });
}

/** The loss of one example or the mean over a batch (`reduction: 'none'` gives one loss per example). */
export function lossOf(c: Config): d.PerExampleLossFn & ((out: Tensor, y: Tensor, o?: { reduction?: 'none' | 'mean' }) => Tensor) {
  return c.loss === 'cross-entropy' ? (out, y, o) => d.crossEntropy(out, y, o) : (out, y, o) => d.mseLoss(out, y, o);
}

/** Every weight of the model in one vector, parameter after parameter (the order of model.parameters()). */
export function flatWeights(params: readonly Tensor[]): Float64Array {
  const n = params.reduce((s, p) => s + p.size, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const p of params) {
    out.set(p.data, at);
    at += p.size;
  }
  return out;
}

/** Put a vector from flatWeights back into the parameters. */
export function setFlatWeights(params: readonly Tensor[], flat: ArrayLike<number>): void {
  let at = 0;
  for (const p of params) {
    p.assign(
      d.tensor(
        Float64Array.from({ length: p.size }, (_, k) => flat[at + k]!),
        { shape: [...p.shape], dtype: DTYPE },
      ),
    );
    at += p.size;
  }
}

/** Gradient tensors (one per parameter, in order) as one vector. */
export function flatGrads(params: readonly Tensor[], grads: Map<Tensor, Tensor>): Float64Array {
  return flatWeights(params.map((p) => grads.get(p)!));
}

/** Per-example gradients ([B, ...shape] per parameter) as B rows of one B x P matrix. */
export function perExampleRows(params: readonly Tensor[], grads: Map<Tensor, Tensor>, B: number): Float64Array {
  const P = params.reduce((s, p) => s + p.size, 0);
  const rows = new Float64Array(B * P);
  let off = 0;
  for (const p of params) {
    const g = grads.get(p)!.data;
    const s = p.size;
    for (let i = 0; i < B; i++) rows.set(g.subarray(i * s, (i + 1) * s), i * P + off);
    off += s;
  }
  return rows;
}

/** Names of the parameters as the model's state dict has them ('0.weight', '0.bias', ...). */
export function paramNames(model: Sequential): string[] {
  return [...model.namedParameters()].map(([n]) => n);
}

/** The mean loss (and accuracy, for classes) of the model on a set, without recording a graph. */
export function score(model: Sequential, c: Config, x: Tensor, y: Tensor, classification: boolean): { loss: number; accuracy: number | null } {
  return d.scope(() =>
    d.noGrad(() => {
      const out = model.forward(x);
      const loss = lossOf(c)(out, y).item();
      if (!classification) return { loss, accuracy: null };
      const labels = c.loss === 'cross-entropy' ? y : d.argmax(y, 1);
      const right = d.sum(d.cast(d.eq(d.argmax(out, 1), labels), DTYPE)).item();
      return { loss, accuracy: right / x.shape[0]! };
    }),
  );
}
