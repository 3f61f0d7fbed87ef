/**
 * The differentiation API. Gradients come back in a store keyed by the tensors asked for, never
 * as mutated .grad fields: an optimizer steps from the store.
 *
 *   const { value, grads } = valueAndGrad(() => mean(square(sub(matmul(x, w), y))), [w]);
 *   grads.get(w) // dLoss/dw, same shape as w
 */
import { isFloat } from '../core/dtype.js';
import { enableGrad, traceDepth, withTrace } from '../core/grad-mode.js';
import { shapeStr } from '../core/shape.js';
import { scope, Tensor } from '../core/tensor.js';
import { add, detach, mul, onesLike, sum } from '../ops/index.js';
import { backwardPass } from './tape.js';

/** Gradients keyed by the tensors they belong to. */
export class GradStore extends Map<Tensor, Tensor> {
  override get(t: Tensor): Tensor {
    const g = super.get(t);
    if (!g) throw new Error(`GradStore: no gradient for tensor ${shapeStr(t.shape)} ${t.dtype}: it was not among the tensors asked for`);
    return g;
  }
}

export interface GradOptions {
  /** Gradient of the output to start from (default 1; required in spirit for non-scalar outputs: it gives the vector of a vector-Jacobian product). */
  seed?: Tensor;
}

export interface ValueAndGrad {
  value: Tensor;
  grads: GradStore;
}

/**
 * Evaluate fn() and its gradient with respect to each tensor in `wrt`. Everything fn creates is
 * freed when this returns, except the value and the gradients. Called inside another
 * differentiation, the backward pass is recorded too, so gradients of gradients work.
 */
export function valueAndGrad(fn: () => Tensor, wrt: readonly Tensor[], options: GradOptions = {}): ValueAndGrad {
  for (const w of wrt) {
    if (!(w instanceof Tensor)) throw new TypeError('valueAndGrad: every entry of wrt must be a Tensor');
    if (!isFloat(w.dtype)) throw new TypeError(`valueAndGrad: cannot differentiate with respect to an ${w.dtype} tensor ${shapeStr(w.shape)}`);
  }
  const nested = traceDepth() > 0;
  return scope(
    () =>
      withTrace(() => {
        for (const w of wrt) w.tracked++;
        try {
          const value = enableGrad(fn);
          if (!(value instanceof Tensor)) throw new TypeError('valueAndGrad: the function must return a Tensor');
          if (!options.seed && value.size !== 1) {
            throw new RangeError(
              `valueAndGrad: the function returned shape ${shapeStr(value.shape)}; differentiate a scalar (e.g. the mean loss) or pass a seed`,
            );
          }
          const seed = options.seed ?? onesLike(value);
          const grads = new GradStore(backwardPass([value], [seed], wrt, nested));
          return { value: nested ? value : detach(value), grads };
        } finally {
          for (const w of wrt) w.tracked--;
        }
      }),
    nested,
  );
}

/** The gradient store of fn() with respect to `wrt`. */
export function grad(fn: () => Tensor, wrt: readonly Tensor[], options: GradOptions = {}): GradStore {
  return valueAndGrad(fn, wrt, options).grads;
}

/** Vector-Jacobian product: gradients of <fn(), v> with respect to `wrt`, and fn()'s value. */
export function vjp(fn: () => Tensor, wrt: readonly Tensor[], v: Tensor): ValueAndGrad {
  return valueAndGrad(fn, wrt, { seed: v });
}

/**
 * Hessian-vector product H v for scalar fn, with H the Hessian with respect to `wrt` and v given as
 * one tensor per entry of wrt: the gradient of <grad fn, v>, which needs gradients of gradients.
 */
export function hvp(fn: () => Tensor, wrt: readonly Tensor[], v: readonly Tensor[]): GradStore {
  if (v.length !== wrt.length) throw new RangeError(`hvp: ${v.length} vectors given for ${wrt.length} tensors`);
  return grad(() => {
    const g = grad(fn, wrt);
    let dot: Tensor | null = null;
    wrt.forEach((w, i) => {
      const term = sum(mul(g.get(w), v[i]!));
      dot = dot ? add(dot, term) : term;
    });
    return dot!;
  }, wrt);
}
