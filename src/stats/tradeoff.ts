/**
 * Steps against examples: train to a fixed target loss at several batch sizes and count the
 * optimizer steps S and the examples E = B S each needed (McCandlish et al. 2018, section 2.2).
 * Small batches need many steps (each step is noisy); large batches need few steps but many
 * examples (averaging beyond the noise scale buys little). The paper's model, for SGD with the
 * best learning rate at each batch size, is
 *   S = S_min (1 + B_crit / B),   E = E_min (1 + B / B_crit),   B_crit = E_min / S_min,
 * equivalently (S / S_min - 1)(E / E_min - 1) = 1, and B_crit is close to the noise scale.
 * Since S = S_min + E_min / B, a least-squares line through the points (1/B, S) gives S_min
 * (intercept) and E_min (slope).
 */
import { valueAndGrad } from '../autograd/api.js';
import type { PerExampleLossFn } from '../autograd/per-example.js';
import { noGrad } from '../core/grad-mode.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { add, indexSelect, mean, mul, sub, tensor } from '../ops/index.js';

export interface TradeoffModel {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
}

export interface TradeoffOptions {
  /** A fresh model with the same starting weights every call. */
  makeModel: () => TradeoffModel;
  loss: PerExampleLossFn;
  x: Tensor;
  y: Tensor;
  /** Examples on which the target is checked (a fixed part of the training data). */
  evalX: Tensor;
  evalY: Tensor;
  targetLoss: number;
  batchSizes: number[];
  /** Learning rates tried at each batch size; the one needing fewest steps is kept. */
  lrs: number[];
  maxSteps: number;
  /** Seed of the batch draws: every run at one batch size sees the same batches, so learning rates are compared fairly. */
  seed: number;
}

export interface TradeoffPoint {
  batch_size: number;
  /** The learning rate that reached the target in the fewest steps. */
  lr: number;
  steps: number;
  examples: number;
  /** S_min (1 + B_crit / B) from the fitted line. */
  predicted_steps: number;
}

export interface TradeoffResult {
  points: TradeoffPoint[];
  s_min: number;
  e_min: number;
  /** E_min / S_min. */
  b_crit: number;
  target_loss: number;
}

/** Least-squares fit of S = S_min + E_min / B through (B, S) pairs. */
export function fitStepsExamples(points: readonly { batch_size: number; steps: number }[]): { sMin: number; eMin: number } {
  const n = points.length;
  if (n < 2) throw new RangeError(`fitStepsExamples: need at least 2 batch sizes that reached the target, got ${n}`);
  const u = points.map((p) => 1 / p.batch_size),
    s = points.map((p) => p.steps);
  const mu = u.reduce((a, b) => a + b, 0) / n,
    ms = s.reduce((a, b) => a + b, 0) / n;
  let cov = 0,
    varU = 0;
  for (let i = 0; i < n; i++) {
    cov += (u[i]! - mu) * (s[i]! - ms);
    varU += (u[i]! - mu) ** 2;
  }
  const eMin = cov / varU;
  return { sMin: ms - eMin * mu, eMin };
}

/**
 * Plain SGD from the model's starting weights until the mean loss on the eval examples is at most
 * the target: the step count, or null if not within `limit` steps (or when a training loss is not
 * finite). Values are read only at the checks, asynchronously (GPU backends): `bad` sums 0 x each
 * step's loss on the device, which stays 0 while every loss is finite and is NaN once one is not.
 */
async function stepsToTarget(o: TradeoffOptions, B: number, lr: number, limit: number): Promise<number | null> {
  const model = o.makeModel();
  const params = model.parameters();
  const N = o.x.shape[0]!;
  const gen = new Generator(o.seed * 7919 + B);
  // Check the target about every 64 examples (every step for batches of 64 or more).
  const every = Math.max(1, Math.round(64 / B));
  let bad: Tensor | undefined;
  try {
    for (let step = 1; step <= limit; step++) {
      const check = scope(() => {
        const idx = new Int32Array(B);
        for (let j = 0; j < B; j++) idx[j] = gen.nextInt(N);
        const it = tensor(idx, { dtype: 'int32' });
        const { value, grads } = valueAndGrad(
          () => mean(o.loss(model.forward(indexSelect(o.x, 0, it)), indexSelect(o.y, 0, it), { reduction: 'none' })),
          params,
        );
        return noGrad(() => {
          for (const p of params) p.assign(sub(p, mul(grads.get(p), lr)));
          const flag = mul(value, 0);
          const next = keep(bad ? add(bad, flag) : flag);
          bad?.dispose();
          bad = next;
          return step % every === 0 ? keep(mean(o.loss(model.forward(o.evalX), o.evalY, { reduction: 'none' }))) : undefined;
        });
      });
      if (!check) continue;
      const [flag, l] = await Promise.all([bad!.itemAsync(), check.itemAsync()]).finally(() => check.dispose());
      if (!Number.isFinite(flag) || !Number.isFinite(l)) return null;
      if (l! <= o.targetLoss) return step;
    }
    return null;
  } finally {
    bad?.dispose();
  }
}

/** Steps and examples to the target loss at each batch size (best learning rate of the grid), and the fitted S_min, E_min, B_crit. */
export async function stepsExamplesTradeoff(o: TradeoffOptions): Promise<TradeoffResult> {
  const reached: { batch_size: number; lr: number; steps: number }[] = [];
  for (const B of o.batchSizes) {
    let best: { lr: number; steps: number } | null = null;
    for (const lr of o.lrs) {
      // A run that has not reached the target by the best count so far cannot win: stop it there.
      const s = await stepsToTarget(o, B, lr, best ? best.steps - 1 : o.maxSteps);
      if (s !== null && (best === null || s < best.steps)) best = { lr, steps: s };
    }
    if (best) reached.push({ batch_size: B, ...best });
  }
  const { sMin, eMin } = fitStepsExamples(reached);
  const bCrit = eMin / sMin;
  return {
    points: reached.map((p) => ({ ...p, examples: p.steps * p.batch_size, predicted_steps: sMin * (1 + bCrit / p.batch_size) })),
    s_min: sMin,
    e_min: eMin,
    b_crit: bCrit,
    target_loss: o.targetLoss,
  };
}
