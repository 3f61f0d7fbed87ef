/**
 * The mini-batch panel: each example's gradient and their average as arrows in a 2-D view of
 * weight space (x: along the full-batch gradient; y: across it, where the examples disagree
 * most), beside the full-batch gradient; each example's loss as a bar; and on request the
 * numbers showing that the mean of the per-example gradients is the gradient of the mean loss.
 */
import type { BatchAnalysis } from '../lib/minibatch.js';
import type { DataSet } from '../lib/datasets.js';
import { CLASS_COLORS, el, fitCanvas, fmt } from './dom.js';

const MEAN = '#111',
  FULL = '#12a150';

function arrow(ctx: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number, color: string, width: number, alpha = 1): void {
  const a = Math.atan2(y1 - y0, x1 - x0);
  const head = Math.min(4 + width * 2.5, Math.hypot(x1 - x0, y1 - y0) * 0.6);
  ctx.globalAlpha = alpha;
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(a - 0.4), y1 - head * Math.sin(a - 0.4));
  ctx.lineTo(x1 - head * Math.cos(a + 0.4), y1 - head * Math.sin(a + 0.4));
  ctx.closePath();
  ctx.fill();
  ctx.globalAlpha = 1;
}

/** The colour of training point i: its class, or blue for the regression. */
export const pointColor = (data: DataSet, i: number): string => (data.task === 'classification' ? CLASS_COLORS[data.train.y[i]!]! : CLASS_COLORS[1]);

export function drawArrows(canvas: HTMLCanvasElement, a: BatchAnalysis, data: DataSet): void {
  const { ctx, w, h } = fitCanvas(canvas);
  const s = Math.min(w, h);
  const reach = Math.max(1e-300, ...a.coords.map(([x, y]) => Math.hypot(x, y)), Math.hypot(...a.full), Math.hypot(...a.mean));
  const k = (0.44 * s) / reach;
  const cx = s / 2,
    cy = s / 2;
  ctx.strokeStyle = '#e3e6ea';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, cy);
  ctx.lineTo(s, cy);
  ctx.moveTo(cx, 0);
  ctx.lineTo(cx, s);
  ctx.stroke();
  ctx.fillStyle = '#8a929c';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText('along the full-batch gradient →', 6, cy - 6);
  const alpha = a.coords.length > 64 ? 0.35 : 0.75;
  a.coords.forEach(([x, y], i) => arrow(ctx, cx, cy, cx + x * k, cy - y * k, pointColor(data, a.indices[i]!), 1.2, alpha));
  arrow(ctx, cx, cy, cx + a.full[0] * k, cy - a.full[1] * k, FULL, 4);
  arrow(ctx, cx, cy, cx + a.mean[0] * k, cy - a.mean[1] * k, MEAN, 3);
}

export const ARROW_KEYS = [
  { label: "one example's gradient", color: '#8a929c', kind: 'thin' as const },
  { label: 'their average = the batch gradient', color: MEAN, kind: 'line' as const },
  { label: 'full-batch gradient', color: FULL, kind: 'line' as const },
];

export function drawLossBars(canvas: HTMLCanvasElement, a: BatchAnalysis, data: DataSet): void {
  const { ctx, w, h } = fitCanvas(canvas);
  const B = a.losses.length;
  const top = Math.max(...a.losses, 1e-12);
  const bw = w / B;
  a.losses.forEach((l, i) => {
    ctx.fillStyle = pointColor(data, a.indices[i]!);
    const bh = (l / top) * (h - 14);
    ctx.fillRect(i * bw + (bw > 3 ? 1 : 0), h - bh, Math.max(1, bw - (bw > 3 ? 2 : 0)), bh);
  });
  const y = h - (a.meanOfLosses / top) * (h - 14);
  ctx.strokeStyle = MEAN;
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(0, y);
  ctx.lineTo(w, y);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = MEAN;
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`mean loss ${fmt(a.meanOfLosses)}`, 4, Math.max(11, y - 3));
}

/** The proof: the first weights of every layer, both ways, and how far apart all P of them are. */
export function proofTable(a: BatchAnalysis): HTMLElement {
  const B = a.losses.length;
  const rows = a.proof.map((r) =>
    el(
      'tr',
      {},
      el('td', { class: 'name' }, `${r.param}[${r.index}]`),
      el('td', {}, r.meanOfExamples.toPrecision(10)),
      el('td', {}, r.gradOfMean.toPrecision(10)),
      el('td', {}, fmt(r.meanOfExamples - r.gradOfMean, 3)),
    ),
  );
  const head = el(
    'tr',
    {},
    el('th', { class: 'name' }, 'weight'),
    el('th', {}, `mean of ${B} example gradients`),
    el('th', {}, 'gradient of mean loss'),
    el('th', {}, 'difference'),
  );
  return el(
    'div',
    {},
    el(
      'p',
      { class: 'caption' },
      `Step ${a.step}, a batch of ${B}. Mean of the ${B} losses: ${a.meanOfLosses.toPrecision(12)}; loss of the batch computed by autodiff: ${a.batchLoss.toPrecision(12)}. `,
      el(
        'span',
        { class: 'ok', 'data-relative-difference': String(a.relativeDifference) },
        `All ${a.weights} weights: |mean - gradient| / |gradient| = ${fmt(a.relativeDifference, 2)} (largest difference ${fmt(a.maxAbsDifference, 2)}).`,
      ),
      ' Why: the mean loss is (1/B)·(l₁ + … + l_B), and the gradient of a sum is the sum of the gradients, so its gradient is the mean of the examples’ gradients.',
    ),
    el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows))),
  );
}

export function batchCaption(a: BatchAnalysis): string {
  const B = a.losses.length;
  return (
    `Step ${a.step}: ${B} example${B > 1 ? 's' : ''}. cos(batch gradient, full-batch gradient) = ${a.cosine.toFixed(3)}` +
    ` (1: the batch points exactly where all the data does). The view shows ${(a.shownFraction * 100).toFixed(0)}% of the batch gradient's length; bars: each example's loss.`
  );
}
