/**
 * The page of `descent explain`'s batch-size sweep: gradient variance against batch size with
 * the tr Σ / B line, and the steps/examples trade-off (S/S_min − 1)(E/E_min − 1) = 1 of
 * McCandlish et al. (2018) with B_noise as the critical batch (drawn by client/explain.ts).
 */
import { writeFileAtomic } from '../io/atomic.js';
import { renderPage } from './page.js';

export interface ExplainSweepPoint {
  batch_size: number;
  /** Measured E‖g_B − G‖² over mini-batches of this size. */
  measured_variance: number;
  /** tr Σ / B. */
  predicted_variance: number;
}

export interface ExplainData {
  sweep: ExplainSweepPoint[];
  /** tr Σ: the summed variance of one example's gradient. */
  trace_cov: number;
  /** ‖G‖²: the squared norm of the full-batch gradient. */
  grad_norm_sq: number;
  /** B_noise = tr Σ / ‖G‖². */
  noise_scale: number;
  dataset: string;
  model: string;
}

function check(data: ExplainData): void {
  const who = 'writeExplainPage';
  if (!data || !Array.isArray(data.sweep)) throw new TypeError(`${who}: data.sweep must be an array of { batch_size, measured_variance, predicted_variance }`);
  data.sweep.forEach((s, i) => {
    if (!Number.isInteger(s.batch_size) || s.batch_size < 1)
      throw new RangeError(`${who}: sweep[${i}].batch_size must be a positive integer, got ${s.batch_size}`);
    for (const k of ['measured_variance', 'predicted_variance'] as const) {
      if (typeof s[k] !== 'number') throw new TypeError(`${who}: sweep[${i}].${k} must be a number, got ${JSON.stringify(s[k])}`);
    }
  });
  for (const k of ['trace_cov', 'grad_norm_sq', 'noise_scale'] as const) {
    if (typeof data[k] !== 'number') throw new TypeError(`${who}: data.${k} must be a number, got ${JSON.stringify(data[k])}`);
  }
}

/** Write the sweep's page to `path`; returns the path. */
export function writeExplainPage(path: string, data: ExplainData): string {
  check(data);
  const title = `Descent explain: ${data.model || 'model'} on ${data.dataset || 'data'}`;
  writeFileAtomic(path, renderPage('explain', title, { explain: data }));
  return path;
}
