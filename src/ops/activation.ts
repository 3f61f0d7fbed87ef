/**
 * Functions composed from primitives: they need no backward of their own. Each piecewise one picks
 * its pieces with where() on the same comparison PyTorch's kernel uses, so that the gradient at the
 * kink, and at NaN, is PyTorch's (a minimum() or maximum() instead would split a tie 0.5/0.5).
 */
import { isGradEnabled } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { add, div, erf, exp, ge, gt, le, log1p, lt, maximum, minimum, mul, neg, sqrt, sub, tanh, where } from './elementwise.js';
import { detach } from './movement.js';

/** x for x > 0, slope * x otherwise (PyTorch default slope 0.01); the gradient at 0 and at NaN is the slope. */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return where(gt(x, 0), x, mul(x, negativeSlope));
}

/**
 * alpha (e^x - 1) for x <= 0, x otherwise (NaN included). The gradient at 0 is alpha (the left
 * piece's, as PyTorch); exp only ever sees x <= 0 (0 elsewhere), so a large x overflows nothing.
 */
export function elu(x: Tensor, alpha = 1): Tensor {
  const neg = le(x, 0);
  return where(neg, mul(sub(exp(where(neg, x, 0)), 1), alpha), x);
}

/**
 * x Phi(x) with Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 * approximate: 'none'), or the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/**
 * log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so it never overflows. Both kinks are
 * written with the same where(x > 0) so that their one-sided slopes meet: the gradient is
 * sigmoid(x) everywhere, 1/2 at 0 (relu(x) + log1p(exp(-abs(x))) would give 0 + 0 there).
 */
export function softplus(x: Tensor): Tensor {
  const pos = gt(x, 0);
  return add(where(pos, x, 0), log1p(exp(where(pos, neg(x), x))));
}

/**
 * log sigmoid(x) = min(x, 0) - log1p(e^-|x|), with the kinks written as in softplus: the gradient
 * is sigmoid(-x) everywhere, and logSigmoid(+Inf) is +0 (-softplus(-x) would give -0).
 */
export function logSigmoid(x: Tensor): Tensor {
  const negv = lt(x, 0);
  return sub(where(negv, x, 0), log1p(exp(where(negv, x, neg(x)))));
}

/**
 * Limit to [min, max] (either may be omitted); NaN stays NaN. The gradient is 1 inside, bounds
 * included, and 0 outside and at NaN (PyTorch's clamp_backward: x >= min and x <= max).
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  // the bound first: maximum and minimum return their second operand on a tie, so x = -0 with a
  // bound of 0 stays -0, as PyTorch's std::max(x, min)
  const bound = (t: Tensor): Tensor => {
    let y = t;
    if (min !== undefined) y = maximum(min, y);
    if (max !== undefined) y = minimum(max, y);
    return y;
  };
  // Nothing to differentiate: the two kernels alone (gradient clipping runs here every step).
  if (!x.requiresGrad || !isGradEnabled()) return bound(x);
  let inside: Tensor | null = null;
  if (min !== undefined) inside = ge(x, min);
  if (max !== undefined) inside = inside === null ? le(x, max) : mul(inside, le(x, max));
  if (inside === null) return x;
  // x itself where it is inside (its gradient 1), the bound, a constant, elsewhere
  return where(inside, x, bound(detach(x)));
}

export function rsqrt(x: Tensor): Tensor {
  return div(1, sqrt(x));
}

export function square(x: Tensor): Tensor {
  return mul(x, x);
}
