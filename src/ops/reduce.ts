/** Reductions over any axes (keepdims or not), arg-reductions, and what is composed from them. */
import type { ReduceOp } from '../backend/index.js';
import { isFloat } from '../core/dtype.js';
import { noGrad } from '../core/grad-mode.js';
import { normAxes, normAxis, shapeSize } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';
import { add, div, eq, exp, log, mul, ne, sqrt, sub, where } from './elementwise.js';
import { detach, expand, reshape, scatterAdd } from './movement.js';
import type { OpDef, OpTable } from './run.js';
import { apply } from './run.js';
import type { ArgAttrs, ExtremeAttrs, ReduceAttrs } from './types.js';

export type Axes = number | readonly number[];

function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (!axes.includes(i)) out.push(shape[i]!);
    else if (keepdims) out.push(1);
  }
  return out;
}

/** The gradient (shape of the reduced output) reshaped so it broadcasts against the input. */
function gradAsKeepdims(g: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return reshape(g, reducedShape(x.shape, axes, true));
}

function reduceDef<A extends ReduceAttrs>(op: ReduceOp, backward: OpDef<A>['backward']): OpDef<A> {
  return {
    infer([x], { axes, keepdims }) {
      if (op !== 'sum')
        for (const a of axes) if (x!.shape[a] === 0) throw new RangeError(`${op}: cannot reduce over axis ${a} of size 0 (shape [${x!.shape.join(', ')}])`);
      return { shape: reducedShape(x!.shape, axes, keepdims), dtype: x!.dtype };
    },
    forward(b, [x], out, { axes }) {
      b.reduce(op, x!.storage, out, x!.shape, axes);
    },
    backward,
  };
}

/**
 * Gradient of max/min, as PyTorch. 'index' (one axis): all of it to the element argmax/argmin
 * returns, scattered into zeros. 'split': to every element equal to the result, 1/count each; a
 * NaN result came from the NaNs, which share it (x == NaN is false, so they are matched by
 * x != x where the result is NaN).
 */
function extremeBackward(arg: 'argmax' | 'argmin'): OpDef<ExtremeAttrs>['backward'] {
  return (g, { inputs: [x], out, attrs: { axes, ties } }) => {
    const gk = gradAsKeepdims(g, x!, axes);
    if (ties === 'index') {
      const idx = apply(arg, reduceOps[arg], [x!], { axis: axes[0]!, keepdims: true });
      return [scatterAdd(gk, axes[0]!, idx, x!.shape)];
    }
    const ok = gradAsKeepdims(out, x!, axes);
    const mask = add(eq(x!, ok), mul(ne(x!, x!), ne(ok, ok)));
    return [mul(gk, div(mask, sumOp(mask, axes, true)))];
  };
}

function argDef(op: 'argmax' | 'argmin'): OpDef<ArgAttrs> {
  return {
    infer([x], { axis, keepdims }) {
      if (x!.size === 0) throw new RangeError(`${op}: empty tensor`);
      if (axis === null) return { shape: keepdims ? x!.shape.map(() => 1) : [], dtype: 'int32' };
      return { shape: reducedShape(x!.shape, [axis], keepdims), dtype: 'int32' };
    },
    forward(b, [x], out, { axis }) {
      if (axis === null) b.argReduce(op, x!.storage, out, 1, x!.size, 1);
      else b.argReduce(op, x!.storage, out, shapeSize(x!.shape.slice(0, axis)), x!.shape[axis]!, shapeSize(x!.shape.slice(axis + 1)));
    },
    backward: null,
  };
}

export const reduceOps: OpTable<'sum' | 'max' | 'min' | 'argmax' | 'argmin'> = {
  // d sum / dx_i = 1: the gradient is broadcast back over the reduced axes
  sum: reduceDef('sum', (g, { inputs: [x], attrs: { axes } }) => [expand(gradAsKeepdims(g, x!, axes), x!.shape)]),
  max: reduceDef<ExtremeAttrs>('max', extremeBackward('argmax')),
  min: reduceDef<ExtremeAttrs>('min', extremeBackward('argmin')),
  argmax: argDef('argmax'),
  argmin: argDef('argmin'),
};

function sumOp(x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return apply('sum', reduceOps.sum, [x], { axes: [...axes], keepdims });
}

/** Sum over the given axes (all when omitted). */
export function sum(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  return sumOp(x, normAxes('sum', axes, x.rank), keepdims);
}
/**
 * Largest element over the axes (NaN if any is NaN). Its gradient, as PyTorch's: over one axis
 * given as a number (torch.max(x, dim)), to the element argmax picks, the first on ties; over all
 * axes or a list of them (torch.max(x), torch.amax), split evenly among the tied elements.
 */
export function max(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  return apply('max', reduceOps.max, [x], { axes: normAxes('max', axes, x.rank), keepdims, ties: typeof axes === 'number' ? 'index' : 'split' });
}
/** Smallest element over the axes; its gradient as max's. */
export function min(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  return apply('min', reduceOps.min, [x], { axes: normAxes('min', axes, x.rank), keepdims, ties: typeof axes === 'number' ? 'index' : 'split' });
}
/** Index of the largest element along an axis (of the flattened tensor when axis is omitted), int32. */
export function argmax(x: Tensor, axis?: number, keepdims = false): Tensor {
  return apply('argmax', reduceOps.argmax, [x], { axis: axis === undefined ? null : normAxis('argmax', axis, x.rank), keepdims });
}
export function argmin(x: Tensor, axis?: number, keepdims = false): Tensor {
  return apply('argmin', reduceOps.argmin, [x], { axis: axis === undefined ? null : normAxis('argmin', axis, x.rank), keepdims });
}

function countOver(op: string, x: Tensor, axes: Axes | undefined): [number[], number] {
  const ax = normAxes(op, axes, x.rank);
  return [ax, ax.reduce((n, a) => n * x.shape[a]!, 1)];
}

function requireFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new TypeError(`${op}: expects a float32 or float64 tensor, got ${x.dtype} (cast it first)`);
}

/** Mean over the axes: the sum divided by the number of elements summed. */
export function mean(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  requireFloat('mean', x);
  const [ax, n] = countOver('mean', x, axes);
  return div(sumOp(x, ax, keepdims), n);
}

export interface VarianceOptions {
  /** Subtracted from the count in the denominator: 1 (default) is the unbiased estimate, 0 the population variance. */
  correction?: number;
  keepdims?: boolean;
}

/** sum((x - mean)^2) / (n - correction), as torch.var. */
export function variance(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  requireFloat('variance', x);
  const [ax, n] = countOver('variance', x, axes);
  const d = sub(x, mean(x, ax, true));
  return div(sumOp(mul(d, d), ax, options.keepdims ?? false), Math.max(0, n - (options.correction ?? 1)));
}

export function std(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  return sqrt(variance(x, axes, options));
}

/**
 * x - m with m the maximum over the axes (kept), taken as a constant: shifting by a constant
 * changes neither softmax nor the gradient of logSumExp, and keeps every exp() <= 1. A non-finite
 * maximum (a row of -Infinity, an Infinity or a NaN) is replaced by 0: x - x is 0 only for finite x.
 */
function shiftByMax(x: Tensor, axes: number[]): [Tensor, Tensor] {
  const m = noGrad(() => {
    const mx = max(detach(x), axes, true);
    return where(eq(sub(mx, mx), 0), mx, 0);
  });
  return [sub(x, m), m];
}

/** log(sum(exp(x))) without overflow: log(sum(exp(x - m))) + m. Rows of -Infinity give -Infinity; the gradient is softmax(x). */
export function logSumExp(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  requireFloat('logSumExp', x);
  const ax = normAxes('logSumExp', axes, x.rank);
  const [s, m] = shiftByMax(x, ax);
  const out = add(log(sumOp(exp(s), ax, true)), m);
  return keepdims ? out : reshape(out, reducedShape(x.shape, ax, false));
}

/** exp(x - m) / sum(exp(x - m)) along one axis: exact to rounding for any finite logits. */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const [s] = shiftByMax(x, [normAxis('softmax', axis, x.rank)]);
  const e = exp(s);
  return div(e, sumOp(e, [normAxis('softmax', axis, x.rank)], true));
}

/** (x - m) - log(sum(exp(x - m))) along one axis. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  const ax = [normAxis('logSoftmax', axis, x.rank)];
  const [s] = shiftByMax(x, ax);
  return sub(s, log(sumOp(exp(s), ax, true)));
}
