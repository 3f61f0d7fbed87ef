/**
 * What the model says everywhere: for the 2-D sets, the probability of the blue class (1) on a
 * grid over the plane (the decision boundary is where it crosses 1/2); for the 1-D regression, the
 * predicted curve. One noGrad forward pass of Descent over all the grid points.
 */
import * as d from 'descent';
import type { Problem, Sequential } from './setup.js';
import { DTYPE } from './setup.js';

/** The plane shown: [-EXTENT, EXTENT] in both coordinates. */
export const EXTENT = 1.2;

export interface Boundary {
  /** Grid points per side (2-D) or points along x (1-D). */
  size: number;
  /** 2-D: P(class 1) row by row from the top (y = +EXTENT); 1-D: the prediction at each x. */
  values: Float64Array;
}

/** Grid coordinate i of `size` points over [-EXTENT, EXTENT]. */
export const gridAt = (i: number, size: number): number => -EXTENT + (2 * EXTENT * i) / (size - 1);

export function boundary(model: Sequential, problem: Problem, size: number): Boundary {
  return d.scope(() =>
    d.noGrad(() => {
      if (problem.inputs === 1) {
        const x = d.tensor(
          Float64Array.from({ length: size }, (_, i) => gridAt(i, size)),
          { shape: [size, 1], dtype: DTYPE },
        );
        return { size, values: Float64Array.from(model.forward(x).data) };
      }
      const pts = new Float64Array(size * size * 2);
      for (let r = 0; r < size; r++)
        for (let c = 0; c < size; c++) {
          pts[(r * size + c) * 2] = gridAt(c, size);
          pts[(r * size + c) * 2 + 1] = -gridAt(r, size);
        }
      const out = model.forward(d.tensor(pts, { shape: [size * size, 2], dtype: DTYPE }));
      // Cross-entropy: the softmax's probability of class 1. MSE on one-hot targets: the outputs
      // aim at 0 and 1, so (out1 - out0 + 1) / 2, clipped to [0, 1], reads the same way.
      const p =
        problem.config.loss === 'cross-entropy'
          ? d.narrow(d.softmax(out, 1), 1, 1, 1)
          : d.clamp(d.div(d.add(d.sub(d.narrow(out, 1, 1, 1), d.narrow(out, 1, 0, 1)), 1), 2), 0, 1);
      return { size, values: Float64Array.from(p.data) };
    }),
  );
}
