/**
 * Gradient checks against central finite differences, along random directions (as JAX's
 * check_grads): for F(x) = <f(x), w> with a fixed random w, the directional derivative
 * <grad F, v> must match (F(x + eps v) - F(x - eps v)) / (2 eps) for random v. Use float64.
 */
import { noGrad } from '../core/grad-mode.js';
import { Generator } from '../core/random.js';
import { scope, Tensor } from '../core/tensor.js';
import { add, mul, randn, sum } from '../ops/index.js';
import { grad } from './api.js';

export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** Number of random directions. */
  directions?: number;
  seed?: number;
}

export interface GradCheckResult {
  ok: boolean;
  /** Per direction: [autodiff, finite difference]. */
  pairs: [number, number][];
  worstError: number;
}

export function gradCheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradCheckOptions = {}): GradCheckResult {
  const { eps = 1e-6, rtol = 1e-6, atol = 1e-9, directions = 3, seed = 1234 } = options;
  for (const x of inputs) {
    if (x.dtype !== 'float64') throw new TypeError(`gradCheck: inputs must be float64 for a meaningful check, got ${x.dtype}`);
  }
  const gen = new Generator(seed);
  return scope(() => {
    const out0 = noGrad(() => f(...inputs));
    const w = randn(out0.shape, { dtype: 'float64', generator: gen });
    const F = (xs: readonly Tensor[]) => sum(mul(f(...xs), w));
    const g = grad(() => F(inputs), inputs);
    const pairs: [number, number][] = [];
    let worst = 0;
    let ok = true;
    for (let d = 0; d < directions; d++) {
      const v = inputs.map((x) => randn(x.shape, { dtype: 'float64', generator: gen }));
      const analytic = inputs.reduce((s, x, i) => s + sum(mul(g.get(x), v[i]!)).item(), 0);
      const numeric = noGrad(() => {
        const plus = F(inputs.map((x, i) => add(x, mul(v[i]!, eps)))).item();
        const minus = F(inputs.map((x, i) => add(x, mul(v[i]!, -eps)))).item();
        return (plus - minus) / (2 * eps);
      });
      const err = Math.abs(analytic - numeric);
      const tol = atol + rtol * Math.max(Math.abs(numeric), Math.abs(analytic));
      if (!(err <= tol)) ok = false;
      worst = Math.max(worst, err / Math.max(tol, 1e-300));
      pairs.push([analytic, numeric]);
    }
    return { ok, pairs, worstError: worst };
  });
}
