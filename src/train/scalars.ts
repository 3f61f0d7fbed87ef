/**
 * Scalars a training step produces (its loss, metric sums, gradient norm), read from wherever they
 * live. On backends the host reads synchronously they are plain numbers at once; on a GPU backend
 * (webgpu) they stay one-element tensors in device memory until `readScalars` copies them back,
 * all of a step's in one transfer, so that the trainer reads a step's figures while the GPU
 * already runs the next step instead of stalling every step.
 */
import { noGrad } from '../core/grad-mode.js';
import { onDevice } from '../core/storage.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { getBackend, setBackend } from '../backend/index.js';
import { cast, reshape, stack, tensor } from '../ops/index.js';

/** A number, or a one-element tensor holding it. */
export type Scalar = number | Tensor;

/** Whether a tensor lives where only an asynchronous read reaches it (GPU memory). */
export function readsAsync(t: Tensor): boolean {
  return onDevice(t.storage);
}

/** A scalar kept past the current scope (a tensor is kept; a number is itself). */
export function keepScalar<S extends Scalar | undefined>(s: S): S {
  return (typeof s === 'object' ? keep(s) : s) as S;
}

/** Free what keepScalar kept. */
export function dropScalars(xs: readonly (Scalar | undefined)[]): void {
  for (const s of xs) if (typeof s === 'object' && !s.isDisposed) s.dispose();
}

/** The value now (throws the async-read error for a GPU tensor). */
export function scalarNow(s: Scalar): number {
  return typeof s === 'number' ? s : s.item();
}

/**
 * The values, in order: numbers as they are, host tensors read at once, and every GPU tensor in
 * one transfer (stacked into one float32 tensor: losses, counts below 2^24 and norms are exact or
 * float32 already). Undefined entries stay undefined.
 */
export async function readScalars(xs: readonly (Scalar | undefined)[]): Promise<(number | undefined)[]> {
  const out = xs.map((s) => (s === undefined ? undefined : typeof s === 'number' ? s : readsAsync(s) ? NaN : s.item()));
  const gpu = xs.flatMap((s, i) => (typeof s === 'object' && readsAsync(s) ? [i] : []));
  if (gpu.length === 0) return out;
  const packed = keep(scope(() => noGrad(() => stack(gpu.map((i) => reshape(cast(xs[i] as Tensor, 'float32'), []))))));
  try {
    const values = await packed.dataAsync();
    gpu.forEach((i, j) => (out[i] = values[j]!));
  } finally {
    packed.dispose();
  }
  return out;
}

/**
 * Copies of tensors on the host (the reference backend), read from wherever they live, all reads
 * in flight at once: what a synchronous writer (a checkpoint store) can take from a GPU run.
 */
export async function hostTensors(r: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const entries = Object.entries(r);
  const data = await Promise.all(entries.map(([, t]) => t.dataAsync()));
  const previous = getBackend().name;
  setBackend('js');
  try {
    return Object.fromEntries(entries.map(([k, t], i) => [k, keep(tensor(data[i]!, { shape: t.shape, dtype: t.dtype }))]));
  } finally {
    setBackend(previous);
  }
}
