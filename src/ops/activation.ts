/** Functions composed from primitives: they need no backward of their own. */
import type { Tensor } from '../core/tensor.js';
import { abs, add, div, erf, exp, log1p, maximum, minimum, mul, neg, relu, sqrt, sub, tanh, where, gt } from './elementwise.js';

/** x for x > 0, slope * x otherwise (PyTorch default slope 0.01). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return where(gt(x, 0), x, mul(x, negativeSlope));
}

/** x for x > 0, alpha (e^x - 1) otherwise. */
export function elu(x: Tensor, alpha = 1): Tensor {
  return where(gt(x, 0), x, mul(sub(exp(minimum(x, 0)), 1), alpha));
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

/** log(1 + e^x), computed as relu(x) + log1p(e^-|x|) so it never overflows. */
export function softplus(x: Tensor): Tensor {
  return add(relu(x), log1p(exp(neg(abs(x)))));
}

/** log sigmoid(x) = -softplus(-x). */
export function logSigmoid(x: Tensor): Tensor {
  return neg(softplus(neg(x)));
}

/** Limit to [min, max] (either may be omitted); the gradient is 1 inside, 0 outside. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  let y = x;
  if (min !== undefined) y = maximum(y, min);
  if (max !== undefined) y = minimum(y, max);
  return y;
}

export function rsqrt(x: Tensor): Tensor {
  return div(1, sqrt(x));
}

export function square(x: Tensor): Tensor {
  return mul(x, x);
}
