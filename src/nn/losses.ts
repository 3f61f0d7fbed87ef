/**
 * Regression, binary and divergence losses, composed from ops (so they need no backward of their
 * own). Reductions follow ./reduction.ts: 'none' gives one loss per example (shape [B]; for
 * inputs [B, ...] the mean of the elementwise losses over the non-batch axes), 'sum' adds the
 * per-example losses, 'mean' (default) averages them. Input and target must have the same shape.
 * The classification losses (crossEntropy, nllLoss, multiMarginLoss) are in ./classification.ts.
 */
import type { Tensor } from '../core/tensor.js';
import { abs, add, clamp, exp, gt, log, maximum, minimum, mul, neg, relu, softplus, square, sub, sum, where } from '../ops/index.js';
import type { ReductionOptions } from './reduction.js';
import { checkPair, checkReduction, checkWeight, meanPerExample, reduce, sumPerExample } from './reduction.js';

/** Mean squared error: (x - y)^2. */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  checkPair('mseLoss', input, target);
  return reduce('mseLoss', meanPerExample(square(sub(input, target))), options.reduction);
}

/** Mean absolute error: |x - y|. */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  checkPair('l1Loss', input, target);
  return reduce('l1Loss', meanPerExample(abs(sub(input, target))), options.reduction);
}

/**
 * Elementwise Huber term with threshold delta, for d = |x - y|:
 * 0.5 d^2 if d < delta, else delta (d - 0.5 delta). Written as 0.5 q^2 + delta (d - q) with
 * q = min(d, delta): the quadratic part saturates at delta and the rest grows linearly.
 */
function huber(input: Tensor, target: Tensor, delta: number): Tensor {
  const d = abs(sub(input, target));
  const q = minimum(d, delta);
  return add(mul(square(q), 0.5), mul(sub(d, q), delta));
}

/** Huber loss (quadratic near 0, linear beyond delta; PyTorch's HuberLoss). */
export function huberLoss(input: Tensor, target: Tensor, options: ReductionOptions & { delta?: number } = {}): Tensor {
  checkPair('huberLoss', input, target);
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new RangeError(`huberLoss: delta must be > 0, got ${delta}`);
  return reduce('huberLoss', meanPerExample(huber(input, target, delta)), options.reduction);
}

/**
 * Smooth L1 (PyTorch's SmoothL1Loss): 0.5 d^2 / beta if d < beta, else d - 0.5 beta, which is
 * huber(delta = beta) / beta; beta = 0 is the L1 loss.
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: ReductionOptions & { beta?: number } = {}): Tensor {
  checkPair('smoothL1Loss', input, target);
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) throw new RangeError(`smoothL1Loss: beta must be >= 0, got ${beta}`);
  const l = beta === 0 ? abs(sub(input, target)) : mul(huber(input, target, beta), 1 / beta);
  return reduce('smoothL1Loss', meanPerExample(l), options.reduction);
}

/**
 * Binary cross-entropy on probabilities p in [0, 1]: -w (y log p + (1 - y) log(1 - p)), with each
 * log clamped below at -100 as PyTorch does, so p = 0 or 1 gives a finite loss. (The argument of
 * each log is first raised to a tiny positive number, so the gradient there is 0, not NaN.)
 * `weight` rescales elementwise and broadcasts against the input, as in PyTorch.
 * Prefer binaryCrossEntropyWithLogits: it is exact where sigmoid saturates.
 */
export function binaryCrossEntropy(probs: Tensor, target: Tensor, options: ReductionOptions & { weight?: Tensor } = {}): Tensor {
  checkPair('binaryCrossEntropy', probs, target);
  checkWeight('binaryCrossEntropy', 'weight', options.weight, probs);
  const tiny = probs.dtype === 'float64' ? 1e-300 : 1e-44; // log(tiny) < -100 in either dtype
  const clampedLog = (v: Tensor) => clamp(log(maximum(v, tiny)), -100);
  let l = neg(add(mul(target, clampedLog(probs)), mul(sub(1, target), clampedLog(sub(1, probs)))));
  if (options.weight) l = mul(l, options.weight);
  return reduce('binaryCrossEntropy', meanPerExample(l), options.reduction);
}

/**
 * Binary cross-entropy on logits x, i.e. of p = sigmoid(x), in the stable form
 * max(x, 0) - x y + log(1 + e^-|x|) (never exponentiates a positive number).
 * With posWeight pw (broadcast against the input, one per class for multi-label problems) the
 * positive term is weighted as PyTorch does: (1 - y) x + (1 + (pw - 1) y) softplus(-x), where
 * softplus(-x) = -log sigmoid(x); with pw = 1 this is the unweighted form above.
 * `weight` then rescales elementwise.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, options: ReductionOptions & { posWeight?: Tensor; weight?: Tensor } = {}): Tensor {
  const fn = 'binaryCrossEntropyWithLogits';
  checkPair(fn, logits, target);
  checkWeight(fn, 'posWeight', options.posWeight, logits);
  checkWeight(fn, 'weight', options.weight, logits);
  let l: Tensor;
  if (options.posWeight) {
    const logWeight = add(mul(sub(options.posWeight, 1), target), 1);
    l = add(mul(sub(1, target), logits), mul(logWeight, softplus(neg(logits))));
  } else {
    l = add(sub(relu(logits), mul(logits, target)), softplus(neg(abs(logits))));
  }
  if (options.weight) l = mul(l, options.weight);
  return reduce(fn, meanPerExample(l), options.reduction);
}

export type KlReduction = 'mean' | 'sum' | 'none' | 'batchmean';

/**
 * Kullback-Leibler divergence KL(target || q) with `input` = log q (log-probabilities), PyTorch's
 * argument order. Pointwise: t (log t - input), taken as 0 where t = 0; with logTarget the target
 * is given as log t and the term is e^t (t - input).
 *
 * A divergence adds over the distribution, so the per-example loss ('none', shape [B]) is the SUM
 * over the non-batch axes: the KL of each example. 'sum' adds them; 'batchmean' and 'mean' both
 * divide that by B, the true mean KL. (PyTorch's 'mean' averages over every element instead and
 * its documentation says 'mean' will become 'batchmean'; we take that behaviour now, so mean of
 * 'none' = 'mean' here as for every other loss.)
 */
export function klDiv(input: Tensor, target: Tensor, options: { reduction?: KlReduction; logTarget?: boolean } = {}): Tensor {
  checkPair('klDiv', input, target);
  const reduction = checkReduction('klDiv', options.reduction ?? 'mean', ['mean', 'sum', 'none', 'batchmean']);
  let l: Tensor;
  if (options.logTarget) {
    l = mul(exp(target), sub(target, input));
  } else {
    const pos = gt(target, 0);
    // t log t with the log taken of 1 where t = 0, so neither the value nor the gradient is NaN.
    const tLogT = where(pos, mul(target, log(where(pos, target, 1))), 0);
    l = sub(tLogT, mul(target, input));
  }
  const perExample = sumPerExample(l);
  if (reduction === 'none') return perExample;
  if (reduction === 'sum') return sum(perExample);
  return reduce('klDiv', perExample, 'mean');
}

/**
 * Hinge loss for scores s and labels y in {+1, -1}: max(0, margin - y s) (margin 1 by default),
 * the loss of a linear support-vector machine. Zero once an example is on the right side by at
 * least the margin.
 */
export function hingeLoss(scores: Tensor, target: Tensor, options: ReductionOptions & { margin?: number } = {}): Tensor {
  checkPair('hingeLoss', scores, target);
  const l = relu(sub(options.margin ?? 1, mul(target, scores)));
  return reduce('hingeLoss', meanPerExample(l), options.reduction);
}
