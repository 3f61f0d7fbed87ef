/** Evaluation: mean loss, accuracy and a confusion matrix over a loader, with no graph recorded. */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { argmax } from '../ops/index.js';
import type { Metric } from './metrics.js';
import { accuracy, isClassification, MetricSums } from './metrics.js';
import type { Pacer } from './pace.js';
import type { BatchLoader, LossFn, TrainableModel } from './types.js';

export { countCorrect } from './metrics.js';

export interface EvalResult {
  loss: number;
  accuracy?: number;
  examples: number;
  /** Each applicable metric's mean over the examples (accuracy included when it applies). */
  metrics: Record<string, number>;
  /** confusion[true][predicted] counts, for integer-labelled classification. */
  confusion?: number[][];
}

/**
 * Run fn on every batch of one epoch; fn returning false stops the epoch there. For a synchronous
 * loader the batch is fetched inside the step's scope, so the batch tensors the loader makes are
 * freed with the step's intermediates (a loader that hands out tensors it keeps is left alone:
 * they were not created in the scope). With a pacer, the loop gives the event loop its turn
 * between batches when the pacer says it is time.
 */
export async function forEachBatch(loader: BatchLoader, fn: (batch: Tensor[]) => boolean | void, pacer?: Pacer): Promise<void> {
  if (loader[Symbol.iterator]) {
    const it = loader[Symbol.iterator]!();
    for (;;) {
      const more = scope(() => {
        const r = it.next();
        if (r.done) return false;
        return fn(r.value) !== false;
      });
      if (!more) return;
      const pause = pacer?.due();
      if (pause) await pause;
    }
  }
  if (!loader[Symbol.asyncIterator]) throw new TypeError('fit/evaluate: the loader is neither iterable nor async iterable');
  const it = loader[Symbol.asyncIterator]!();
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    if (scope(() => fn(r.value)) === false) return;
    const pause = pacer?.due();
    if (pause) await pause;
  }
}

/**
 * Mean of per-example losses over the whole loader (each batch's mean weighted by its size), the
 * metrics' means (default: accuracy, when it applies), and for classification the confusion matrix.
 */
export async function evaluate(model: TrainableModel, loader: BatchLoader, lossFn: LossFn, options: { metrics?: readonly Metric[] } = {}): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0,
    examples = 0;
  const sums = new MetricSums(options.metrics ?? [accuracy]);
  let confusion: number[][] | undefined;
  let classified = true;
  try {
    await forEachBatch(loader, (batch) => {
      const [x, y] = batch as [Tensor, Tensor];
      const n = x.shape[0]!;
      noGrad(() => {
        const out = model.forward(x);
        lossSum += lossFn(out, y).item() * n;
        examples += n;
        sums.add(out, y);
        if (!classified || !isClassification(out, y)) {
          classified = false;
          return;
        }
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
  const metrics = sums.means(examples);
  return { loss: examples ? lossSum / examples : NaN, accuracy: metrics.accuracy, metrics, examples, confusion: classified ? confusion : undefined };
}
