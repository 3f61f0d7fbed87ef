/**
 * Privacy accounting for DP-SGD with the Renyi-differential-privacy (RDP) accountant of the
 * sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019, "Renyi Differential Privacy of the
 * Sampled Gaussian Mechanism"; Abadi et al. 2016 for DP-SGD).
 *
 * One DP-SGD step includes each example with probability q (the sample rate), clips every
 * per-example gradient to norm C and adds N(0, (sigma C)^2) noise. For an integer order alpha >= 2
 * its RDP is eps(alpha) = log(A_alpha) / (alpha - 1) with (their section 3.3)
 *   A_alpha = sum_{k=0}^{alpha} binom(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)),
 * evaluated here in log space (log-sum-exp) so large orders do not overflow. RDP adds up over
 * steps (T steps: T eps(alpha)), and converts to (epsilon, delta)-DP by
 *   epsilon = min over alpha of  T eps(alpha) + log(1/delta) / (alpha - 1)   (Mironov 2017, prop. 3).
 * Only integer orders 2..256 are used, so epsilon is a valid upper bound, slightly looser than
 * accountants that also try fractional orders. The analysis assumes Poisson sampling; a loader
 * that shuffles and cuts fixed-size batches is the usual approximation of it (as in Opacus and
 * TensorFlow Privacy's tutorials).
 */

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** RDP of one step of the sampled Gaussian mechanism at integer order alpha >= 2. */
export function rdpSampledGaussian(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`rdpSampledGaussian: sample rate q must be in [0, 1], got ${q}`);
  if (!(sigma > 0)) throw new RangeError(`rdpSampledGaussian: noise multiplier sigma must be > 0, got ${sigma}`);
  if (!Number.isInteger(alpha) || alpha < 2) throw new RangeError(`rdpSampledGaussian: order alpha must be an integer >= 2, got ${alpha}`);
  if (q === 0) return 0;
  if (q === 1) return alpha / (2 * sigma * sigma); // the plain Gaussian mechanism
  let logA = -Infinity;
  let logBinom = 0; // log binom(alpha, k), updated as k grows
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
    logA = logAdd(logA, logBinom + (alpha - k) * Math.log1p(-q) + k * Math.log(q) + (k * k - k) / (2 * sigma * sigma));
  }
  return logA / (alpha - 1);
}

export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** The Renyi order that gave the smallest epsilon. */
  order: number;
}

/** (epsilon, delta) after `steps` steps of DP-SGD with sample rate q and noise multiplier sigma. */
export function dpSgdEpsilon(q: number, sigma: number, steps: number, delta: number): PrivacySpent {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`dpSgdEpsilon: delta must be in (0, 1), got ${delta}`);
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`dpSgdEpsilon: steps must be a non-negative integer, got ${steps}`);
  let best: PrivacySpent = { epsilon: Infinity, delta, order: 2 };
  for (let alpha = 2; alpha <= 256; alpha++) {
    const eps = steps * rdpSampledGaussian(q, sigma, alpha) + Math.log(1 / delta) / (alpha - 1);
    if (eps < best.epsilon) best = { epsilon: eps, delta, order: alpha };
  }
  return best;
}
