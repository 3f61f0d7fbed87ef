/**
 * Metrics of a run beyond its loss, task-neutral: a metric is a name and the sum of its value
 * over a batch's examples. fit() and evaluate() add the sums over an epoch and divide by the
 * examples, so an epoch's figure is the mean over its examples however the batches were cut, and
 * it is logged as `train_<name>` / `val_<name>`. A metric that does not apply to a model's output
 * (accuracy on a regression) says so by returning undefined, and is left out.
 */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { abs, argmax, cast, eq, mean, reshape, square, sub, sum } from '../ops/index.js';
import type { Scalar } from './scalars.js';
import { readsAsync, scalarNow } from './scalars.js';

export interface Metric {
  /** Logged as train_<name> and val_<name>. */
  readonly name: string;
  /**
   * The metric summed over the batch's examples; undefined: it does not apply to this output and
   * target. A one-element tensor may stand for the number: on a GPU backend it is read back
   * later with the step's other figures, instead of stalling the step (the built-in metrics do).
   */
  sum(output: Tensor, target: Tensor): Scalar | undefined;
}

/** Whether a batch is classification: scores [B, C] against integer labels [B]. */
export function isClassification(output: Tensor, target: Tensor): boolean {
  return target.dtype === 'int32' && output.rank === 2 && target.rank === 1;
}

/** Correct predictions in a batch: argmax of the outputs against integer labels (undefined for other targets). */
export function countCorrect(output: Tensor, target: Tensor): number | undefined {
  const n = correctTensor(output, target);
  return n === undefined ? undefined : n.item();
}

/** countCorrect as a one-element int32 tensor on the output's backend (not read back). */
function correctTensor(output: Tensor, target: Tensor): Tensor | undefined {
  if (!isClassification(output, target)) return undefined;
  return noGrad(() => sum(cast(eq(argmax(output, 1), target), 'int32')));
}

/** A number where the host reads it synchronously, else the tensor (read later, with the step's other figures). */
const scalarOf = (t: Tensor): Scalar => (readsAsync(t) ? t : t.item());

/** The fraction of examples whose largest output is at their integer label (classification). */
export const accuracy: Metric = {
  name: 'accuracy',
  sum: (output, target) => {
    const n = correctTensor(output, target);
    return n === undefined ? undefined : scalarOf(n);
  },
};

/** Per example: the mean over its outputs of f(output - target); summed over the batch. Float targets of the output's shape only. */
function regression(name: string, f: (d: Tensor) => Tensor): Metric {
  return {
    name,
    sum: (output, target) => {
      if (target.dtype === 'int32' || target.size !== output.size || output.rank === 0) return undefined;
      return noGrad(() => {
        const d = f(sub(output, reshape(target, [...output.shape])));
        const total = sum(
          output.rank === 1
            ? d
            : mean(
                d,
                Array.from({ length: output.rank - 1 }, (_, i) => i + 1),
              ),
        );
        return scalarOf(total);
      });
    },
  };
}

/** Mean absolute error (per example: the mean over its outputs). */
export const meanAbsoluteError: Metric = regression('mae', (d) => abs(d));
/** Mean squared error (per example: the mean over its outputs). */
export const meanSquaredError: Metric = regression('mse', (d) => square(d));

/** Running sums of metrics over the examples of an epoch (or an evaluation). */
export class MetricSums {
  /** Sum per metric name; null once a batch said the metric does not apply. */
  readonly sums: Record<string, number | null>;

  constructor(
    readonly metrics: readonly Metric[],
    saved?: Record<string, number | null>,
  ) {
    this.sums = Object.fromEntries(metrics.map((m) => [m.name, saved && m.name in saved ? saved[m.name]! : 0]));
  }

  /** Add a batch: from its output, or sums given directly (a custom gradient computation's). Reads GPU values synchronously. */
  add(output: Tensor | undefined, target: Tensor, given?: Record<string, Scalar | undefined>): void {
    for (const [k, v] of Object.entries(this.batch(output, target, given))) this.sums[k] = v === undefined ? null : this.sums[k]! + scalarNow(v);
  }

  /** A batch's sums, not yet added: tensors on a GPU backend (see readScalars), else numbers. */
  batch(output: Tensor | undefined, target: Tensor, given?: Record<string, Scalar | undefined>): Record<string, Scalar | undefined> {
    const out: Record<string, Scalar | undefined> = {};
    for (const m of this.metrics) {
      if (this.sums[m.name] === null) continue;
      out[m.name] = given && m.name in given ? given[m.name] : output ? m.sum(output, target) : undefined;
    }
    return out;
  }

  /** Add a batch's sums as numbers (from batch(), read); a metric left out or undefined no longer applies. */
  addValues(values: Record<string, number | undefined>): void {
    for (const m of this.metrics) {
      if (this.sums[m.name] === null) continue;
      const v = values[m.name];
      this.sums[m.name] = v === undefined ? null : this.sums[m.name]! + v;
    }
  }

  /** Each applicable metric's mean over `examples`. */
  means(examples: number): Record<string, number> {
    const out: Record<string, number> = {};
    if (examples > 0) for (const [k, v] of Object.entries(this.sums)) if (v !== null) out[k] = v / examples;
    return out;
  }
}
