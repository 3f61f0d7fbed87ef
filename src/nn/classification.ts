/**
 * Classification losses on [B, C] scores with PyTorch's semantics: nllLoss, crossEntropy (class
 * indices or class probabilities, label smoothing, class weights, ignoreIndex) and
 * multiMarginLoss. Composed from ops; 'none' gives one loss per example, shape [B].
 */
import { shapeStr, shapesEqual } from '../core/shape.js';
import { hostReadable } from '../core/storage.js';
import { noteIndexBound } from '../ops/movement.js';
import type { Tensor } from '../core/tensor.js';
import {
  add,
  cast,
  div,
  gather,
  ge,
  indexSelect,
  logSoftmax,
  lt,
  mul,
  ne,
  neg,
  oneHot,
  relu,
  reshape,
  softmaxCrossEntropy,
  square,
  sub,
  sum,
  tensor,
  where,
} from '../ops/index.js';
import type { ReductionOptions } from './reduction.js';
import { checkReduction, checkWeight, reduce, requireFloat } from './reduction.js';

export interface ClassWeightOptions extends ReductionOptions {
  /** One weight per class, shape [C] (same dtype as the scores): the loss of an example of class c is multiplied by weight[c]. */
  weight?: Tensor;
  /** Examples with this target contribute 0 and are left out of the 'mean' (default -100). */
  ignoreIndex?: number;
}

function checkScores(fn: string, what: string, x: Tensor): [number, number] {
  requireFloat(fn, what, x);
  if (x.rank !== 2) throw new RangeError(`${fn}: ${what} must have shape [B, C] (batch, classes), got ${shapeStr(x.shape)}`);
  return [x.shape[0]!, x.shape[1]!];
}

function checkClassWeight(fn: string, w: Tensor | undefined, x: Tensor, C: number): void {
  checkWeight(fn, 'weight', w, x);
  if (w !== undefined && !shapesEqual(w.shape, [C])) throw new RangeError(`${fn}: weight must have shape [${C}] (one per class), got ${shapeStr(w.shape)}`);
}

/**
 * Integer targets: checked (each in [0, C) or equal to ignoreIndex), with ignored entries replaced
 * by class 0 so they can index, and a 0/1 mask of the examples that count.
 */
function indexTargets(fn: string, target: Tensor, B: number, C: number, ignoreIndex: number, dtype: 'float32' | 'float64'): { safe: Tensor; valid: Tensor } {
  if (target.dtype !== 'int32') throw new TypeError(`${fn}: class-index targets must be int32, got ${target.dtype}`);
  if (!shapesEqual(target.shape, [B]))
    throw new RangeError(`${fn}: target must have shape [${B}] (one class index per example), got ${shapeStr(target.shape)}`);
  if (!hostReadable(target.storage)) return deviceTargets(target, C, ignoreIndex, dtype);
  const t = target.data;
  const safe = new Int32Array(B);
  const valid = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    const c = t[i]!;
    if (c === ignoreIndex) continue;
    if (c < 0 || c >= C)
      throw new RangeError(
        `${fn}: target ${c} at position ${i} is out of range for ${C} classes${Number.isNaN(ignoreIndex) ? '' : ` (and is not ignoreIndex ${ignoreIndex})`}`,
      );
    safe[i] = c;
    valid[i] = 1;
  }
  return { safe: tensor(safe, { dtype: 'int32' }), valid: tensor(valid, { dtype }) };
}

/**
 * indexTargets for targets in GPU memory, which cannot be checked before the step without a read
 * (PyTorch on CUDA checks them on the device too, with an assert): the same safe indices and mask,
 * made on the device, and an out-of-range class gives its example a NaN weight, so its loss (and
 * a 'mean') is NaN, which fit's divergence guard reports, instead of a wrong number.
 */
function deviceTargets(target: Tensor, C: number, ignoreIndex: number, dtype: 'float32' | 'float64'): { safe: Tensor; valid: Tensor } {
  const t = cast(target, dtype);
  const counted = ne(t, ignoreIndex);
  const inRange = mul(ge(t, 0), lt(t, C));
  const safe = cast(mul(t, mul(counted, inRange)), 'int32');
  noteIndexBound(safe.storage, C); // every entry is in [0, C): gather need not read them to check
  return { safe, valid: where(mul(counted, sub(1, inRange)), NaN, counted) };
}

/**
 * Checks integer targets as indexTargets does; true when some target equals ignoreIndex. Targets
 * in GPU memory are checked on the device (deviceTargets): true, for the path that does.
 */
function anyIgnored(fn: string, target: Tensor, B: number, C: number, ignoreIndex: number): boolean {
  if (target.dtype !== 'int32') throw new TypeError(`${fn}: class-index targets must be int32, got ${target.dtype}`);
  if (!shapesEqual(target.shape, [B]))
    throw new RangeError(`${fn}: target must have shape [${B}] (one class index per example), got ${shapeStr(target.shape)}`);
  if (!hostReadable(target.storage)) return true;
  const t = target.data;
  let ignored = false;
  for (let i = 0; i < B; i++) {
    const c = t[i]!;
    if (c === ignoreIndex) ignored = true;
    else if (c < 0 || c >= C) indexTargets(fn, target, B, C, ignoreIndex, 'float32'); // throws its message
  }
  return ignored;
}

/**
 * The loss from log-probabilities and class indices, with optional label smoothing eps.
 * Per example i with class y (w = weight, 1 when absent; v_i = 0 if ignored, else 1):
 *   loss_i = v_i [ (1 - eps) w_y (-logp_iy) + (eps / C) sum_c w_c (-logp_ic) ]
 * which is PyTorch's (1 - eps) nll + (eps / C) smooth. 'mean' divides the sum by sum_i v_i w_yi
 * (the total weight of the counted examples; B when unweighted with nothing ignored); all
 * examples ignored gives 0 / 0 = NaN, as in PyTorch.
 */
function fromLogProbs(fn: string, logp: Tensor, target: Tensor, options: ClassWeightOptions, eps: number): Tensor {
  const [B, C] = [logp.shape[0]!, logp.shape[1]!];
  const reduction = checkReduction(fn, options.reduction ?? 'mean', ['mean', 'sum', 'none']);
  const { safe, valid } = indexTargets(fn, target, B, C, options.ignoreIndex ?? -100, logp.dtype as 'float32' | 'float64');
  const w = options.weight;
  const exampleWeight = w ? mul(valid, indexSelect(w, 0, safe)) : valid; // v_i w_yi
  const picked = reshape(gather(logp, 1, reshape(safe, [B, 1])), [B]); // logp_iy
  let loss = mul(neg(picked), exampleWeight);
  if (eps > 0) {
    const smooth = neg(sum(w ? mul(logp, w) : logp, 1)); // sum_c w_c (-logp_ic)
    loss = add(mul(loss, 1 - eps), mul(mul(smooth, valid), eps / C));
  }
  if (reduction === 'mean') return div(sum(loss), sum(exampleWeight));
  return reduce(fn, loss, reduction);
}

/**
 * Negative log-likelihood of class indices under log-probabilities logProbs [B, C]:
 * -weight[y_i] logProbs[i, y_i] per example (0 for ignored ones). 'mean' is the weighted mean,
 * divided by the total weight of the examples that are not ignored (PyTorch's rule).
 */
export function nllLoss(logProbs: Tensor, target: Tensor, options: ClassWeightOptions = {}): Tensor {
  const [, C] = checkScores('nllLoss', 'logProbs', logProbs);
  checkClassWeight('nllLoss', options.weight, logProbs, C);
  return fromLogProbs('nllLoss', logProbs, target, options, 0);
}

export interface CrossEntropyOptions extends ClassWeightOptions {
  /** eps in [0, 1]: the target becomes (1 - eps) onehot + eps / C (default 0). */
  labelSmoothing?: number;
}

/**
 * Cross-entropy of logits [B, C] (unnormalised scores) against either
 * - int32 class indices [B]: nllLoss(logSoftmax(logits)) with label smoothing, class weights and
 *   ignoreIndex exactly as PyTorch (see fromLogProbs above), or
 * - float class probabilities [B, C] (soft labels): -sum_c w_c t_ic logp_ic per example, with
 *   t smoothed to (1 - eps) t + eps / C; 'mean' divides by B even with weights (PyTorch's rule);
 *   ignoreIndex does not apply.
 * logSoftmax is computed stably (shifted by the row maximum), so logits of any size give finite losses.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const fn = 'crossEntropy';
  const [B, C] = checkScores(fn, 'logits', logits);
  checkClassWeight(fn, options.weight, logits, C);
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`${fn}: labelSmoothing must be in [0, 1], got ${eps}`);
  // the common case, nothing weighted, smoothed or ignored: one fused op per row (ops/cross-entropy.ts)
  if (target.dtype === 'int32' && !options.weight && eps === 0 && !anyIgnored(fn, target, B, C, options.ignoreIndex ?? -100))
    return reduce(fn, softmaxCrossEntropy(logits, target), options.reduction);
  const logp = logSoftmax(logits, 1);
  if (target.dtype === 'int32') return fromLogProbs(fn, logp, target, options, eps);
  if (!shapesEqual(target.shape, logits.shape) || target.dtype !== logits.dtype) {
    throw new RangeError(
      `${fn}: target must be int32 class indices [B] or class probabilities of the logits' shape and dtype ${shapeStr(logits.shape)} ${logits.dtype}, got ${shapeStr(target.shape)} ${target.dtype}`,
    );
  }
  let t = eps > 0 ? add(mul(target, 1 - eps), eps / C) : target;
  if (options.weight) t = mul(t, options.weight);
  return reduce(fn, neg(sum(mul(t, logp), 1)), options.reduction);
}

/**
 * Multi-class margin (hinge) loss, PyTorch's MultiMarginLoss: for scores x [B, C] and class y,
 *   loss_i = (1 / C) sum_{j != y} w_y max(0, margin - x_y + x_j)^p,   p in {1, 2}
 * (the weight multiplies the hinge term, as PyTorch's kernel does). Zero once the true class beats
 * every other by the margin. 'mean' averages over the batch.
 */
export function multiMarginLoss(scores: Tensor, target: Tensor, options: ReductionOptions & { margin?: number; p?: 1 | 2; weight?: Tensor } = {}): Tensor {
  const fn = 'multiMarginLoss';
  const [B, C] = checkScores(fn, 'scores', scores);
  checkClassWeight(fn, options.weight, scores, C);
  const p = options.p ?? 1;
  if (p !== 1 && p !== 2) throw new RangeError(`${fn}: p must be 1 or 2, got ${p}`);
  const { safe } = indexTargets(fn, target, B, C, Number.NaN /* no ignoreIndex */, scores.dtype as 'float32' | 'float64');
  const xy = gather(scores, 1, reshape(safe, [B, 1])); // [B, 1]
  let h = relu(sub(scores, sub(xy, options.margin ?? 1))); // max(0, margin - x_y + x_j)
  if (p === 2) h = square(h);
  h = mul(h, sub(1, oneHot(safe, C, scores.dtype as 'float32' | 'float64'))); // drop j = y
  if (options.weight) h = mul(h, reshape(indexSelect(options.weight, 0, safe), [B, 1]));
  return reduce(fn, div(sum(h, 1), C), options.reduction);
}
