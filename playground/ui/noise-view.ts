/**
 * The noise panel: the variance of the mini-batch gradient against the batch size on log axes,
 * the exact curve for sampling without replacement beside plain sigma^2/B, the measured points
 * with error bars, and where the chosen batch size stands; then the steps-against-examples race.
 */
import type { PoolNoise, VariancePoint } from '../lib/noise.js';
import { exactVariance } from '../lib/noise.js';
import type { TradeoffReply } from '../lib/protocol.js';
import { fmt } from './dom.js';
import { drawPlot, legend } from './plot.js';
import type { Series } from './plot.js';

const EXACT = '#1f5fa8',
  PLAIN = '#9aa3ad',
  MEASURED = '#d1495b',
  CHOSEN = '#e8891d';

export function drawVariance(
  canvas: HTMLCanvasElement,
  legendEl: HTMLElement,
  pool: PoolNoise | null,
  points: readonly VariancePoint[],
  batchSize: number,
): number {
  const series: Series[] = [];
  if (pool) {
    const N = pool.N;
    const bs: number[] = [];
    for (let b = 1; b < N; b = Math.max(b + 1, Math.round(b * 1.15))) bs.push(b);
    bs.push(N - 1);
    series.push({ label: 'exact: σ²/B · (N−B)/(N−1)', color: EXACT, kind: 'line', points: bs.map((b) => [b, exactVariance(pool.sigma2, N, b)]) });
    series.push({ label: 'σ²/B (with replacement)', color: PLAIN, kind: 'dashed', points: bs.map((b) => [b, pool.sigma2 / b]) });
    if (batchSize < N)
      series.push({ label: `your batch (${batchSize})`, color: CHOSEN, kind: 'points', points: [[batchSize, exactVariance(pool.sigma2, N, batchSize)]] });
  }
  if (points.length)
    series.push({
      label: `measured (±2 standard errors)`,
      color: MEASURED,
      kind: 'points',
      points: points.map((p) => [p.B, p.measured]),
      errors: points.map((p) => 2 * p.standardError),
    });
  legend(legendEl, series);
  return drawPlot(canvas, {
    xLog: true,
    yLog: true,
    xLabel: 'batch size B',
    yLabel: 'E |G_B − G|²',
    series,
    markers: pool && batchSize >= pool.N ? [{ x: pool.N - 1, label: 'full batch: no noise', color: CHOSEN }] : [],
    empty: 'measuring…',
  });
}

export function noiseCaption(pool: PoolNoise, step: number, batchSize: number, points: readonly VariancePoint[]): string {
  const v = exactVariance(pool.sigma2, pool.N, batchSize);
  const ratio = v / pool.gradNormSq;
  const where =
    batchSize >= pool.N
      ? 'The full batch is the full-batch gradient: no noise.'
      : `Your batch of ${batchSize}: noise ${fmt(v, 3)}, ${ratio < 1 ? 'smaller' : 'larger'} than |G|² (${fmt(ratio, 2)}×): ${ratio > 4 ? 'mostly noise, small steps average it out' : ratio < 0.25 ? 'little noise: a smaller batch would do nearly as well per step' : 'noise and signal of the same size'}.`;
  const worst = points.reduce((m, p) => Math.max(m, Math.abs(p.measured / p.exact - 1)), 0);
  const checked = points.reduce((n, p) => n + p.autodiffChecked, 0);
  const diff = points.reduce((m, p) => Math.max(m, p.autodiffDifference), 0);
  const measured = points.length
    ? ` Measured from ≥${Math.min(...points.map((p) => p.batches))} shuffled batches per size: within ${(worst * 100).toFixed(1)}% of the exact curve.` +
      ` Each batch's gradient is the mean of its examples' gradients; ${checked} of them recomputed by autodiff as the gradient of the batch's mean loss agree to ${fmt(diff, 2)} (relative).`
    : '';
  return (
    `At step ${step}: N = ${pool.N} training points, σ² = ${fmt(pool.sigma2, 3)}, |G|² = ${fmt(pool.gradNormSq, 3)}, ` +
    `noise scale σ²/|G|² ≈ ${fmt(pool.noiseScale, 3)}. ${where}${measured}`
  );
}

export function drawTradeoff(canvas: HTMLCanvasElement, r: TradeoffReply | null, status: string): number {
  const series: Series[] = [];
  if (r && r.points.length) {
    const model: [number, number][] = [];
    for (let b = 0.5; b <= Math.max(...r.batchSizes) * 2; b *= 1.2) model.push([r.e_min * (1 + b / r.b_crit), r.s_min * (1 + r.b_crit / b)]);
    if (Number.isFinite(r.b_crit) && r.b_crit > 0) series.push({ label: 'model', color: PLAIN, kind: 'dashed', points: model });
    series.push({
      label: 'measured',
      color: EXACT,
      kind: 'points',
      points: r.points.map((p) => [p.examples, p.steps]),
      labels: r.points.map((p) => `B=${p.batch_size}`),
    });
  }
  return drawPlot(canvas, { xLog: true, yLog: true, xLabel: 'examples to the target loss', yLabel: 'steps', series, empty: status });
}

export function tradeoffCaption(r: TradeoffReply): string {
  const rows = r.points.map((p) => `B=${p.batch_size}: ${p.steps} steps, ${p.examples} examples (lr ${p.lr})`).join('; ');
  const missed = r.missed.length ? ` Not reached within ${r.maxSteps} steps: B = ${r.missed.join(', ')}.` : '';
  const fit =
    r.points.length >= 2 && Number.isFinite(r.b_crit)
      ? ` Fitted S = S_min(1 + B_crit/B) with S_min ≈ ${fmt(r.s_min, 3)} steps, E_min ≈ ${fmt(r.e_min, 3)} examples, B_crit ≈ ${fmt(r.b_crit, 3)}.`
      : '';
  return `Target loss ${r.target}, learning rates tried ${r.lrs.join(', ')}: ${rows}.${missed}${fit} (${r.seconds.toFixed(1)} s)`;
}

export const VARIANCE_COLORS = { EXACT, PLAIN, MEASURED, CHOSEN };
