/**
 * The 1/B law, measured. Take a pool of N examples as "the data". Its true gradient is the mean
 * G = (1/N) sum_i g_i, and the spread of single-example gradients around it is
 * tr(Sigma) = (1/N) sum_i |g_i - G|^2 = (1/N) sum_i |g_i|^2 - |G|^2.
 * A mini-batch of B examples drawn at random (with replacement) gives G_B = (1/B) sum_{j in batch} g_j,
 * an average of B independent draws, so its expected squared error is exactly
 *   E |G_B - G|^2 = tr(Sigma) / B.
 * batchSizeSweep draws many mini-batches of each size, measures the mean of |G_B - G|^2 and puts
 * it next to tr(Sigma)/B. The per-example norms come from perExampleGradNorms (no per-example
 * gradient of the pool is ever stored).
 */
import { valueAndGrad } from '../autograd/api.js';
import type { PerExampleLossFn, PerExampleModel } from '../autograd/per-example.js';
import { perExampleGradNorms } from '../autograd/per-example.js';
import { noGrad } from '../core/grad-mode.js';
import type { Generator } from '../core/random.js';
import { defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { add, indexSelect, mean, mul, narrow, square, stack, sub, sum, tensor, zeros } from '../ops/index.js';

export interface SweepOptions {
  model: PerExampleModel;
  loss: PerExampleLossFn;
  /** The pool of examples, [N, ...] and its targets. */
  x: Tensor;
  y: Tensor;
  /** Batch sizes to measure (default 1, 2, 4, ..., 256). */
  batchSizes?: number[];
  /** Mini-batches drawn per batch size (default 64). */
  draws?: number;
  generator?: Generator;
}

export interface SweepPoint {
  batch_size: number;
  /** mean over the draws of |G_B - G|^2 */
  measured_variance: number;
  /** tr(Sigma) / B */
  predicted_variance: number;
}

export interface SweepResult {
  sweep: SweepPoint[];
  /** tr(Sigma) of the pool: the summed variance of one example's gradient. */
  trace_cov: number;
  /** |G|^2 of the pool's mean gradient. */
  grad_norm_sq: number;
  /** B_simple = trace_cov / grad_norm_sq. */
  noise_scale: number;
  pool_size: number;
}

/** The gradient of the mean loss over a batch, one tensor per parameter. */
function batchGrad(model: PerExampleModel, loss: PerExampleLossFn, x: Tensor, y: Tensor, params: Tensor[]): Tensor[] {
  const g = valueAndGrad(() => mean(loss(model.forward(x), y, { reduction: 'none' })), params).grads;
  return params.map((p) => g.get(p));
}

/**
 * Measure E|G_B - G|^2 against tr(Sigma)/B. Asynchronous so that it runs on every backend: values
 * are read with dataAsync, a batch size's draws all at once (on a GPU backend the draws are queued
 * and read in one go); each value is summed on the host in float64, in the same order everywhere.
 */
export async function batchSizeSweep(o: SweepOptions): Promise<SweepResult> {
  const N = o.x.shape[0]!;
  const sizes = o.batchSizes ?? [1, 2, 4, 8, 16, 32, 64, 128, 256];
  const draws = o.draws ?? 64;
  const gen = o.generator ?? defaultGenerator;
  const params = o.model.parameters();
  if (sizes.some((b) => !Number.isInteger(b) || b < 1)) throw new RangeError(`batchSizeSweep: batch sizes must be positive integers, got ${sizes.join(', ')}`);
  if (N < 2) throw new RangeError(`batchSizeSweep: the pool needs at least 2 examples, got ${N}`);
  // The pool's mean gradient G and sum_i |g_i|^2, in chunks of 500 examples.
  let Gt: Tensor[] = params.map((p) => keep(zeros(p.shape, { dtype: p.dtype })));
  try {
    let sumNormSq = 0;
    for (let s = 0; s < N; s += 500) {
      const n = Math.min(500, N - s);
      const { next, norms } = scope(() => {
        const xc = narrow(o.x, 0, s, n),
          yc = narrow(o.y, 0, s, n);
        const gc = batchGrad(o.model, o.loss, xc, yc, params);
        // G = sum over chunks of (n/N) x the chunk's mean gradient
        return { next: noGrad(() => gc.map((g, k) => add(Gt[k]!, mul(g, n / N)))), norms: perExampleGradNorms(o.model, o.loss, xc, yc, { params }).norms };
      });
      for (const t of Gt) t.dispose();
      Gt = next.map((t) => keep(t));
      for (const v of await readAndDispose(keep(norms))) sumNormSq += v * v;
    }
    const gNormSq = (await readAndDispose(squaredNorms(Gt))).reduce((acc, v) => acc + v, 0);
    const traceCov = sumNormSq / N - gNormSq;
    const sweep: SweepPoint[] = [];
    for (const B of sizes) {
      const parts: Tensor[] = [];
      for (let k = 0; k < draws; k++) {
        parts.push(
          scope(() => {
            const idx = new Int32Array(B);
            for (let j = 0; j < B; j++) idx[j] = gen.nextInt(N);
            const it = tensor(idx, { dtype: 'int32' });
            const gb = batchGrad(o.model, o.loss, indexSelect(o.x, 0, it), indexSelect(o.y, 0, it), params);
            return keep(squaredNorms(gb.map((g, i) => sub(g, Gt[i]!))));
          }),
        );
      }
      const values = await Promise.all(parts.map(readAndDispose));
      const total = values.reduce((acc, v) => acc + v.reduce((a, x) => a + x, 0), 0);
      sweep.push({ batch_size: B, measured_variance: total / draws, predicted_variance: traceCov / B });
    }
    return { sweep, trace_cov: traceCov, grad_norm_sq: gNormSq, noise_scale: traceCov / gNormSq, pool_size: N };
  } finally {
    for (const t of Gt) t.dispose();
  }
}

/** |t|^2 of each tensor, as one vector (in the tensors' dtype). */
function squaredNorms(ts: readonly Tensor[]): Tensor {
  return noGrad(() => stack(ts.map((g) => sum(square(g)))));
}

async function readAndDispose(t: Tensor): Promise<number[]> {
  try {
    return Array.from(await t.dataAsync());
  } finally {
    t.dispose();
  }
}
