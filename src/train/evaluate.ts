/** Evaluation: mean loss, accuracy and a confusion matrix over a loader, with no graph recorded. */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { argmax, eq, sum, cast } from '../ops/index.js';
import type { BatchLoader, LossFn, TrainableModel } from './types.js';

/** Correct predictions in a batch: argmax of the outputs against integer labels (undefined for other targets). */
export function countCorrect(output: Tensor, target: Tensor): number | undefined {
  if (target.dtype !== 'int32' || output.rank !== 2 || target.rank !== 1) return undefined;
  return noGrad(() => sum(cast(eq(argmax(output, 1), target), 'int32')).item());
}

export interface EvalResult {
  loss: number;
  accuracy?: number;
  examples: number;
  /** confusion[true][predicted] counts, for integer-labelled classification. */
  confusion?: number[][];
}

/**
 * Run fn on every batch of one epoch. For a synchronous loader the batch is fetched inside the
 * step's scope, so the batch tensors the loader makes are freed with the step's intermediates (a
 * loader that hands out tensors it keeps is left alone: they were not created in the scope).
 */
export async function forEachBatch(loader: BatchLoader, fn: (batch: Tensor[]) => void): Promise<void> {
  if (loader[Symbol.iterator]) {
    const it = loader[Symbol.iterator]!();
    for (;;) {
      const more = scope(() => {
        const r = it.next();
        if (r.done) return false;
        fn(r.value);
        return true;
      });
      if (!more) return;
    }
  }
  if (!loader[Symbol.asyncIterator]) throw new TypeError('fit/evaluate: the loader is neither iterable nor async iterable');
  const it = loader[Symbol.asyncIterator]!();
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    scope(() => fn(r.value));
  }
}

/** Mean of per-example losses over the whole loader (each batch's mean weighted by its size). */
export async function evaluate(model: TrainableModel, loader: BatchLoader, lossFn: LossFn): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0, examples = 0, correct = 0, classified = true;
  let confusion: number[][] | undefined;
  try {
    await forEachBatch(loader, (batch) => {
      const [x, y] = batch as [Tensor, Tensor];
      const n = x.shape[0]!;
      noGrad(() => {
        const out = model.forward(x);
        lossSum += lossFn(out, y).item() * n;
        const c = countCorrect(out, y);
        examples += n;
        if (c === undefined) {
          classified = false;
          return;
        }
        correct += c;
        const pred = argmax(out, 1).dataSync();
        const truth = y.dataSync();
        const k = out.shape[1]!;
        confusion ??= Array.from({ length: k }, () => new Array<number>(k).fill(0));
        for (let i = 0; i < n; i++) confusion[truth[i]!]![pred[i]!]!++;
      });
    });
  } finally {
    model.train(wasTraining);
  }
  return {
    loss: examples ? lossSum / examples : NaN,
    accuracy: classified && examples ? correct / examples : undefined,
    examples,
    confusion: classified ? confusion : undefined,
  };
}
