/** Evaluation: mean loss, accuracy and a confusion matrix over a loader, with no graph recorded. */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { keep, scope } from '../core/tensor.js';
import { add, arange, argmax, cast, eq, matmul, reshape, transpose } from '../ops/index.js';
import type { Scalar } from './scalars.js';
import { dropScalars, keepScalar, readScalars, readsAsync } from './scalars.js';
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
 * they were not created in the scope). `after`, when given, is awaited after every batch, outside
 * its scope (where a GPU backend's figures are read back); false stops the epoch too. With a
 * pacer, the loop gives the event loop its turn between batches when the pacer says it is time.
 */
export async function forEachBatch(
  loader: BatchLoader,
  fn: (batch: Tensor[]) => boolean | void,
  pacer?: Pacer,
  after?: () => Promise<boolean> | undefined,
): Promise<void> {
  const between = async (): Promise<boolean> => {
    const a = after?.();
    if (a && !(await a)) return false;
    const pause = pacer?.due();
    if (pause) await pause;
    return true;
  };
  if (loader[Symbol.iterator]) {
    const it = loader[Symbol.iterator]!();
    for (;;) {
      const more = scope(() => {
        const r = it.next();
        if (r.done) return false;
        return fn(r.value) !== false;
      });
      if (!more || !(await between())) return;
    }
  }
  if (!loader[Symbol.asyncIterator]) throw new TypeError('fit/evaluate: the loader is neither iterable nor async iterable');
  const it = loader[Symbol.asyncIterator]!();
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    if (scope(() => fn(r.value)) === false || !(await between())) return;
  }
}

/**
 * Mean of per-example losses over the whole loader (each batch's mean weighted by its size), the
 * metrics' means (default: accuracy, when it applies), and for classification the confusion matrix.
 */
export async function evaluate(model: TrainableModel, loader: BatchLoader, lossFn: LossFn, options: { metrics?: readonly Metric[] } = {}): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  const t = new Totals(new MetricSums(options.metrics ?? [accuracy]));
  try {
    await forEachBatch(
      loader,
      (batch) => noGrad(() => t.add(model.forward(batch[0]!), batch[1]!, lossFn)),
      undefined,
      () => (t.pendingBatches > 256 ? t.drain(256) : undefined), // no await per batch where nothing waits
    );
    await t.drain(0);
  } finally {
    t.dispose();
    model.train(wasTraining);
  }
  const metrics = t.sums.means(t.examples);
  const confusion = await t.confusionMatrix();
  return { loss: t.examples ? t.lossSum / t.examples : NaN, accuracy: metrics.accuracy, metrics, examples: t.examples, confusion };
}

/**
 * An evaluation's running totals. On a GPU backend a batch's loss and metric sums stay on the
 * device until a few hundred batches are read back in one transfer, and the confusion matrix is
 * counted there (one-hot products); elsewhere each batch is added at once, as numbers.
 */
class Totals {
  lossSum = 0;
  examples = 0;
  classified = true;
  private confusion?: number[][];
  private deviceConfusion?: Tensor;
  private pending: { n: number; loss: Scalar; metrics: Record<string, Scalar | undefined> }[] = [];
  private classes?: Tensor;

  get pendingBatches(): number {
    return this.pending.length;
  }

  constructor(readonly sums: MetricSums) {}

  add(out: Tensor, y: Tensor, lossFn: LossFn): void {
    const n = out.shape[0]!;
    const loss = lossFn(out, y);
    this.examples += n;
    if (readsAsync(loss)) this.pending.push({ n, loss: keepScalar(loss), metrics: mapValues(this.sums.batch(out, y), keepScalar) });
    else {
      this.lossSum += loss.item() * n;
      this.sums.add(out, y);
    }
    if (!this.classified || !isClassification(out, y)) this.classified = false;
    else if (readsAsync(out)) this.countOnDevice(out, y);
    else this.count(out, y);
  }

  /** Read back and add the pending batches once there are more than `atMost`. */
  async drain(atMost: number): Promise<boolean> {
    if (this.pending.length <= atMost) return true;
    const batches = this.pending;
    this.pending = [];
    const flat = batches.flatMap((b) => [b.loss, ...Object.values(b.metrics)]);
    try {
      const values = await readScalars(flat);
      let i = 0;
      for (const b of batches) {
        this.lossSum += values[i++]! * b.n;
        this.sums.addValues(mapValues(b.metrics, () => values[i++]));
      }
    } finally {
      dropScalars(flat);
    }
    return true;
  }

  private count(out: Tensor, y: Tensor): void {
    const pred = argmax(out, 1).dataSync();
    const truth = y.dataSync();
    const k = out.shape[1]!;
    this.confusion ??= Array.from({ length: k }, () => new Array<number>(k).fill(0));
    for (let i = 0; i < pred.length; i++) this.confusion[truth[i]!]![pred[i]!]!++;
  }

  /** confusion += onehot(truth)^T onehot(pred), on the device (counts are exact in float32 below 2^24). */
  private countOnDevice(out: Tensor, y: Tensor): void {
    const k = out.shape[1]!;
    if (this.classes?.size !== k) {
      this.classes?.dispose();
      this.classes = keep(reshape(arange(0, k, 1, { dtype: 'int32' }), [1, k])); // made once
    }
    const classes = this.classes;
    const onehot = (labels: Tensor) => cast(eq(reshape(labels, [labels.size, 1]), classes), 'float32');
    const counts = matmul(transpose(onehot(y)), onehot(argmax(out, 1)));
    const next = keep(this.deviceConfusion ? add(this.deviceConfusion, counts) : counts);
    this.deviceConfusion?.dispose();
    this.deviceConfusion = next;
  }

  /** The matrix (undefined unless every batch was classification); frees the device's. */
  async confusionMatrix(): Promise<number[][] | undefined> {
    const d = this.deviceConfusion;
    this.deviceConfusion = undefined;
    if (!d) return this.classified ? this.confusion : undefined;
    try {
      const k = d.shape[0]!;
      const v = await d.dataAsync();
      return this.classified ? Array.from({ length: k }, (_, i) => Array.from(v.subarray(i * k, (i + 1) * k))) : undefined;
    } finally {
      d.dispose();
    }
  }

  dispose(): void {
    this.classes?.dispose();
    this.classes = undefined;
    dropScalars(this.pending.flatMap((b) => [b.loss, ...Object.values(b.metrics)]));
    this.pending = [];
  }
}

function mapValues<A, B>(r: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, f(v)]));
}
