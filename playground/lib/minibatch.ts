/**
 * What one mini-batch does, measured at the weights it is trained on: each example's loss and
 * gradient (Descent's exact per-example gradients), their mean, the gradient autodiff gives for
 * the mean loss of the batch (they are the same vector: d/dw (1/B sum_i l_i) = 1/B sum_i dl_i/dw),
 * and the gradient of the whole training set's mean loss, the direction the batch estimates.
 */
import * as d from 'descent';
import { cosine, dot, norm, removeComponent, rowMean, someOrthogonal, topDirection, unit } from './linalg.js';
import type { Problem, Sequential, Tensor } from './setup.js';
import { flatGrads, lossOf, paramNames, perExampleRows } from './setup.js';

/** One row of the proof table: a weight, the mean of its per-example gradients, the gradient of the mean loss. */
export interface ProofRow {
  param: string;
  index: number;
  meanOfExamples: number;
  gradOfMean: number;
}

export interface BatchAnalysis {
  step: number;
  /** Indices of the batch's points in the training set. */
  indices: number[];
  /** Each example's loss (never negative: a squared error or a cross-entropy). */
  losses: number[];
  /** The mean of `losses`, and the loss value autodiff computed for the batch (the same number). */
  meanOfLosses: number;
  batchLoss: number;
  /** 2-D coordinates of each example's gradient, their mean, the batch gradient and the full-batch gradient. */
  coords: [number, number][];
  mean: [number, number];
  full: [number, number];
  /** cos(batch gradient, full-batch gradient) in the whole weight space. */
  cosine: number;
  /** Share of the batch gradient's length that the 2-D view shows. */
  shownFraction: number;
  /** |mean of per-example gradients - gradient of the mean loss| / |gradient of the mean loss| over all P weights. */
  relativeDifference: number;
  maxAbsDifference: number;
  weights: number;
  proof: ProofRow[];
}

/** Rows of the proof table: the first few weights of every parameter. */
function proofRows(names: string[], params: Tensor[], mean: Float64Array, batch: Float64Array, perParam = 3): ProofRow[] {
  const rows: ProofRow[] = [];
  let off = 0;
  params.forEach((p, i) => {
    for (let k = 0; k < Math.min(perParam, p.size); k++) rows.push({ param: names[i]!, index: k, meanOfExamples: mean[off + k]!, gradOfMean: batch[off + k]! });
    off += p.size;
  });
  return rows;
}

/** Coordinates in the plane spanned by the full-batch gradient (x) and the per-examples' top orthogonal direction (y). */
function plane(rows: Float64Array, B: number, P: number, full: Float64Array): { u1: Float64Array; u2: Float64Array } {
  const u1 = unit(full);
  const residual = removeComponent(rows.slice(), B, P, u1);
  let u2 = topDirection(residual, B, P);
  if (!(norm(u2) > 0)) u2 = someOrthogonal(u1);
  return { u1, u2 };
}

/** Analyse the batch (x, y) at the model's current weights. */
export function analyseBatch(model: Sequential, problem: Problem, x: Tensor, y: Tensor, indices: ArrayLike<number>, step: number): BatchAnalysis {
  return d.scope(() => {
    const params = model.parameters();
    const loss = lossOf(problem.config);
    const B = x.shape[0]!;
    const pe = d.perExampleGrads(model, loss, x, y);
    const P = params.reduce((s, p) => s + p.size, 0);
    const rows = perExampleRows(params, pe.grads, B);
    const mean = rowMean(rows, B, P);
    const batch = d.valueAndGrad(() => loss(model.forward(x), y), params);
    const batchGrad = flatGrads(params, batch.grads);
    const full = flatGrads(
      params,
      d.grad(() => loss(model.forward(problem.xTrain), problem.yTrain), params),
    );
    const { u1, u2 } = plane(rows, B, P, full);
    const at = (v: ArrayLike<number>, off = 0): [number, number] => [dot(v, u1, off, 0, P), dot(v, u2, off, 0, P)];
    const losses = Array.from(pe.losses.data);
    let diff = 0,
      maxAbs = 0;
    for (let k = 0; k < P; k++) {
      const e = mean[k]! - batchGrad[k]!;
      diff += e * e;
      maxAbs = Math.max(maxAbs, Math.abs(e));
    }
    const m2 = at(mean);
    return {
      step,
      indices: Array.from(indices),
      losses,
      meanOfLosses: losses.reduce((s, v) => s + v, 0) / B,
      batchLoss: batch.value.item(),
      coords: Array.from({ length: B }, (_, i) => at(rows, i * P)),
      mean: m2,
      full: at(full),
      cosine: cosine(batchGrad, full),
      shownFraction: Math.hypot(m2[0], m2[1]) / norm(batchGrad),
      relativeDifference: Math.sqrt(diff) / norm(batchGrad),
      maxAbsDifference: maxAbs,
      weights: P,
      proof: proofRows(paramNames(model), params, mean, batchGrad),
    };
  });
}
