/**
 * Training progress as plain messages: what fit() reports through its callbacks, in a form that
 * crosses a postMessage (a Web Worker training while its page draws), a WebSocket or a log. The
 * live charts (mountTrainingCharts) read these messages, whether fit() runs in the page or in a
 * worker:
 *
 *   // worker.js
 *   await d.fit({ ...options, callbacks: [d.progressCallback((m) => postMessage(m))] });
 *   // page.js
 *   const charts = d.mountTrainingCharts(document.getElementById('charts'));
 *   worker.onmessage = (e) => charts.update(e.data);
 *
 * Browser-safe: no DOM, no node:*.
 */
import type { Callback, EpochMetrics, FitResult, StepMetrics } from './types.js';

/** One progress message; `type` tells which. Every field is plain data (structured-clonable). */
export type TrainingProgress =
  | { type: 'descent:begin'; epochs: number; startEpoch: number; batchesPerEpoch: number }
  | ({ type: 'descent:step' } & StepMetrics)
  | ({ type: 'descent:epoch' } & EpochMetrics)
  | { type: 'descent:end'; result: FitResult };

const TYPES = new Set(['descent:begin', 'descent:step', 'descent:epoch', 'descent:end']);

/** True when `m` is one of the messages progressCallback sends (to tell them from a worker's other messages). */
export function isTrainingProgress(m: unknown): m is TrainingProgress {
  return typeof m === 'object' && m !== null && TYPES.has((m as { type?: unknown }).type as string);
}

/** A fit() callback that sends every event of the run to `send` as a TrainingProgress message. */
export function progressCallback(send: (message: TrainingProgress) => void): Callback {
  return {
    onTrainBegin: (info) => send({ type: 'descent:begin', ...info }),
    onStepEnd: (m) => send({ type: 'descent:step', ...m }),
    onEpochEnd: (m) => send({ type: 'descent:epoch', ...m }),
    onTrainEnd: (result) => send({ type: 'descent:end', result }),
  };
}
