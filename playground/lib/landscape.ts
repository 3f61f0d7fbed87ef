/**
 * A 2-D slice of the loss landscape through the current weights, along the two directions in which
 * the weights' trajectory moved most (the top principal components of the recorded weights minus
 * the current ones, as in Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"). The
 * loss at each point of the slice is the mean training loss Descent computes for those weights.
 */
import { norm, removeComponent, someOrthogonal, topDirection, unit } from './linalg.js';
import type { Problem, Sequential } from './setup.js';
import { score, setFlatWeights } from './setup.js';

export interface Landscape {
  /** Grid points per side. */
  size: number;
  /** The slice covers [-span, span] along both directions. */
  span: number;
  /** Mean training loss at each grid point, row by row (row 0: the bottom, beta = -span). */
  losses: number[];
  /** The trajectory's points in the slice's coordinates. */
  path: [number, number][];
  /** The slice's origin and its two unit directions (to place later weights in it). */
  center: Float64Array;
  u1: Float64Array;
  u2: Float64Array;
}

/** Where weights `w` fall in the slice. */
export function project(l: Pick<Landscape, 'center' | 'u1' | 'u2'>, w: Float64Array): [number, number] {
  let a = 0,
    b = 0;
  for (let k = 0; k < w.length; k++) {
    const e = w[k]! - l.center[k]!;
    a += e * l.u1[k]!;
    b += e * l.u2[k]!;
  }
  return [a, b];
}

/** Two orthonormal directions: where the trajectory spread most, then the most of what is left. */
function directions(path: Float64Array[], center: Float64Array): [Float64Array, Float64Array] {
  const P = center.length;
  const T = path.length;
  const rows = new Float64Array(T * P);
  path.forEach((w, t) => {
    for (let k = 0; k < P; k++) rows[t * P + k] = w[k]! - center[k]!;
  });
  let u1 = T > 0 ? topDirection(rows, T, P) : new Float64Array(P);
  if (!(norm(u1) > 0)) u1 = unit(Float64Array.from(center, (_, k) => Math.cos(k * 1.7)));
  let u2 = T > 1 ? topDirection(removeComponent(rows, T, P, u1), T, P) : new Float64Array(P);
  if (!(norm(u2) > 0)) u2 = someOrthogonal(u1);
  return [u1, u2];
}

/** The slice: directions from the path, a span that holds the path, the loss on a size x size grid. */
export function computeLandscape(model: Sequential, problem: Problem, path: Float64Array[], center: Float64Array, size = 21): Landscape {
  const [u1, u2] = directions(path, center);
  const P = center.length;
  const coords = path.map((w) => project({ center, u1, u2 }, w));
  const reach = Math.max(0, ...coords.map(([a, b]) => Math.max(Math.abs(a), Math.abs(b))));
  const span = Math.max(reach * 1.25, 0.05 * (norm(center) + 1));
  const params = model.parameters();
  const losses: number[] = [];
  const w = new Float64Array(P);
  for (let r = 0; r < size; r++) {
    const beta = -span + (2 * span * r) / (size - 1);
    for (let c = 0; c < size; c++) {
      const alpha = -span + (2 * span * c) / (size - 1);
      for (let k = 0; k < P; k++) w[k] = center[k]! + alpha * u1[k]! + beta * u2[k]!;
      setFlatWeights(params, w);
      losses.push(score(model, problem.config, problem.xTrain, problem.yTrain, problem.classification).loss);
    }
  }
  setFlatWeights(params, center);
  return { size, span, losses, path: coords, center, u1, u2 };
}
