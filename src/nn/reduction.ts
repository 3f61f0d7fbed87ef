/**
 * How losses reduce. Every loss first forms ONE LOSS PER EXAMPLE (axis 0 is the batch axis), which
 * is what `reduction: 'none'` returns (shape [B]); 'sum' adds those and 'mean' averages them (for
 * weighted or ignore-aware classification losses, PyTorch's weighted average instead).
 *
 * For elementwise losses (mse, l1, huber, smoothL1, binary cross-entropy, hinge) on inputs with
 * more than one axis, the per-example loss is the MEAN over the non-batch axes, so that the mean
 * of the 'none' output equals the 'mean' reduction (the mean over every element). This departs
 * from PyTorch on purpose: PyTorch's 'none' is elementwise (shape [B, C]) and its 'sum' adds every
 * element, whereas here 'none' is [B] and 'sum' adds the per-example losses (so for [B, C]
 * inputs 'sum' is PyTorch's sum divided by C). Per-example losses are central to this project
 * (per-example gradients, gradient-noise statistics), and with this rule
 * 'mean' = 'sum' / B = mean('none') holds for every unweighted loss. For 1-D inputs [B] all
 * three reductions agree with PyTorch.
 */
import { isFloat } from '../core/dtype.js';
import { shapeStr, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { mean, sum } from '../ops/index.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReductionOptions {
  /** 'mean' (default): average of the per-example losses; 'sum': their sum; 'none': one per example, shape [B]. */
  reduction?: Reduction;
}

export function checkReduction<R extends string>(fn: string, reduction: R, allowed: readonly R[]): R {
  if (!allowed.includes(reduction))
    throw new RangeError(`${fn}: reduction must be ${allowed.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(reduction)}`);
  return reduction;
}

/** Require a float tensor. */
export function requireFloat(fn: string, what: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new TypeError(`${fn}: ${what} must be float32 or float64, got ${t.dtype} ${shapeStr(t.shape)}`);
}

/** Input and target of an elementwise loss: both float, same shape and dtype (no silent broadcasting of [B, 1] against [B]). */
export function checkPair(fn: string, input: Tensor, target: Tensor): void {
  requireFloat(fn, 'input', input);
  if (!shapesEqual(input.shape, target.shape) || input.dtype !== target.dtype) {
    throw new RangeError(
      `${fn}: input ${shapeStr(input.shape)} ${input.dtype} and target ${shapeStr(target.shape)} ${target.dtype} must have the same shape and dtype`,
    );
  }
}

/** An optional weight tensor must match the input's dtype (it broadcasts like any operand). */
export function checkWeight(fn: string, name: string, w: Tensor | undefined, input: Tensor): void {
  if (w !== undefined && w.dtype !== input.dtype) throw new TypeError(`${fn}: ${name} is ${w.dtype} but the input is ${input.dtype}; cast it first`);
}

function nonBatchAxes(l: Tensor): number[] {
  const axes: number[] = [];
  for (let i = 1; i < l.rank; i++) axes.push(i);
  return axes;
}

/** Per-example losses from elementwise ones: the mean over every axis but the first. */
export function meanPerExample(l: Tensor): Tensor {
  return l.rank <= 1 ? l : mean(l, nonBatchAxes(l));
}

/** Per-example sums over every axis but the first (for divergences, which add over the distribution). */
export function sumPerExample(l: Tensor): Tensor {
  return l.rank <= 1 ? l : sum(l, nonBatchAxes(l));
}

/** Reduce per-example losses: their mean, their sum, or themselves. */
export function reduce(fn: string, perExample: Tensor, reduction: Reduction = 'mean'): Tensor {
  switch (checkReduction(fn, reduction, ['mean', 'sum', 'none'])) {
    case 'mean':
      return mean(perExample);
    case 'sum':
      return sum(perExample);
    case 'none':
      return perExample;
  }
}
