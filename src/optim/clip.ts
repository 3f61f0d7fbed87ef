/**
 * Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_, except that the
 * gradient store is never changed: a new store comes back (the clipped tensors belong to the
 * current scope, like any op's result).
 */
import type { Tensor } from '../core/tensor.js';
import { isTensor } from '../core/tensor.js';
import { noGrad } from '../core/grad-mode.js';
import { onDevice } from '../core/storage.js';
import { abs, add, cast, clamp, concat, div, max, mul, pow, reshape, sqrt, sum, zeros } from '../ops/index.js';

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite instead of scaling by it (default false, as PyTorch). */
  errorIfNonfinite?: boolean;
}

function checkStore(who: string, grads: unknown): Map<Tensor, Tensor> {
  if (!(grads instanceof Map)) throw new TypeError(`${who}: expected a gradient store (Map from parameter to gradient)`);
  for (const [k, g] of grads)
    if (!isTensor(g)) throw new TypeError(`${who}: the gradient of a parameter ${isTensor(k) ? `[${k.shape.join(', ')}]` : ''} is not a Tensor`);
  return grads as Map<Tensor, Tensor>;
}

/** The p-norm of one tensor's elements (p = Infinity: the largest magnitude). */
function tensorNorm(g: Tensor, p: number): number {
  if (g.size === 0) return 0;
  if (p === Infinity) return max(abs(g)).item();
  if (p === 2) return sqrt(sum(mul(g, g))).item();
  if (p === 1) return sum(abs(g)).item();
  return pow(sum(pow(abs(g), p)), 1 / p).item();
}

/**
 * Scale all gradients together so that their global p-norm (the norm of the vector of all their
 * elements, i.e. the p-norm of the per-tensor p-norms) is at most maxNorm:
 *   total = (sum_i ||g_i||_p^p)^(1/p),   scale = maxNorm / (total + 1e-6),
 * applied only when scale < 1. Returns the new store and the total norm before clipping.
 */
export function clipGradNorm(
  grads: Map<Tensor, Tensor>,
  maxNorm: number,
  normType = 2,
  options: ClipGradNormOptions = {},
): { grads: Map<Tensor, Tensor>; totalNorm: number; totalNormTensor?: Tensor } {
  const who = 'clipGradNorm';
  const store = checkStore(who, grads);
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw new RangeError(`${who}: maxNorm must be a number >= 0, got ${maxNorm}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new RangeError(`${who}: normType must be a number > 0 or Infinity, got ${normType}`);
  if ([...store.values()].some((g) => onDevice(g.storage))) return clipOnDevice(who, store, maxNorm, normType, options);
  return noGrad(() => {
    const norms = [...store.values()].map((g) => tensorNorm(g, normType));
    let totalNorm: number;
    if (normType === Infinity) totalNorm = norms.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)), 0);
    else if (normType === 2) totalNorm = Math.hypot(...norms);
    else totalNorm = norms.reduce((a, n) => a + n ** normType, 0) ** (1 / normType);
    if (options.errorIfNonfinite && !Number.isFinite(totalNorm)) {
      throw new RangeError(`${who}: the total ${normType}-norm of the gradients is ${totalNorm}, so they cannot be clipped (errorIfNonfinite is set)`);
    }
    const scale = maxNorm / (totalNorm + 1e-6);
    const out = new Map<Tensor, Tensor>();
    // A NaN scale (from a NaN norm) is applied, as PyTorch does, so the NaN is not hidden.
    const apply = !(scale >= 1);
    for (const [p, g] of store) out.set(p, apply ? mul(g, scale) : g);
    return { grads: out, totalNorm };
  });
}

/**
 * clipGradNorm on a GPU backend: the norm and the scale stay on the device, as PyTorch does on
 * CUDA (the gradients are multiplied by min(1, maxNorm / (total + 1e-6)), a NaN total included),
 * so no step waits for a read. `totalNorm` is then a getter that reads synchronously, which a GPU
 * tensor refuses with the error naming the async read: use `totalNormTensor`.
 */
function clipOnDevice(
  who: string,
  store: Map<Tensor, Tensor>,
  maxNorm: number,
  normType: number,
  options: ClipGradNormOptions,
): { grads: Map<Tensor, Tensor>; totalNorm: number; totalNormTensor: Tensor } {
  if (options.errorIfNonfinite)
    throw new TypeError(`${who}: errorIfNonfinite needs the norm read synchronously, which GPU tensors refuse; check totalNormTensor with await itemAsync()`);
  return noGrad(() => {
    const gs = [...store.values()].filter((g) => g.size > 0);
    const p = normType;
    const per = (g: Tensor): Tensor => (p === Infinity ? max(abs(g)) : p === 1 ? sum(abs(g)) : p === 2 ? sum(mul(g, g)) : sum(pow(abs(g), p)));
    const parts = gs.map((g) => reshape(cast(per(g), 'float32'), [1]));
    const joined = parts.length ? concat(parts, 0) : zeros([1]);
    const totalNormTensor = p === Infinity ? max(joined) : p === 1 ? sum(joined) : p === 2 ? sqrt(sum(joined)) : pow(sum(joined), 1 / p);
    const scale = clamp(div(maxNorm, add(totalNormTensor, 1e-6)), undefined, 1);
    const out = new Map<Tensor, Tensor>();
    for (const [param, g] of store) out.set(param, g.size > 0 ? mul(g, cast(scale, g.dtype)) : g);
    return {
      grads: out,
      totalNormTensor,
      get totalNorm(): number {
        return totalNormTensor.item();
      },
    };
  });
}

/** Clamp every gradient element to [-clipValue, clipValue]; returns a new store. */
export function clipGradValue(grads: Map<Tensor, Tensor>, clipValue: number): Map<Tensor, Tensor> {
  const store = checkStore('clipGradValue', grads);
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new RangeError(`clipGradValue: clipValue must be a number >= 0, got ${clipValue}`);
  return noGrad(() => {
    const out = new Map<Tensor, Tensor>();
    for (const [p, g] of store) out.set(p, clamp(g, -clipValue, clipValue));
    return out;
  });
}
