/** Scalar functions the reference kernels need beyond Math. */

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * The error function to about 1e-15 absolute: its Maclaurin series for |x| < 2.5 (at most ~70
 * terms, cancellation costs under 3 digits there) and the continued fraction of erfc, evaluated by
 * the modified Lentz method, beyond.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return x; // erf is odd: erf(-0) = -0 (the series below would give +0)
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc z = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ...)))))
  const tiny = 1e-300;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let i = 1; i < 300; i++) {
    const a = i / 2;
    D = ax + a * D;
    if (Math.abs(D) < tiny) D = tiny;
    C = ax + a / C;
    if (Math.abs(C) < tiny) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  return Math.sign(x) * (1 - erfc);
}

export function sigmoid(x: number): number {
  // Two branches so that exp never overflows.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * C's pow (IEEE 754 pow, as PyTorch): Math.pow differs only where the base is 1 or -1 and the
 * exponent NaN or infinite, which C defines as 1 (1^y = 1 for every y, even NaN; (-1)^+-Inf = 1:
 * every large float is an even integer) and JavaScript as NaN.
 */
export function pow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}
