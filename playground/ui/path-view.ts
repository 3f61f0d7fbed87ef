/**
 * The path panel: the loss curves (each step's batch, the whole training set, the test set) and a
 * slice of the loss landscape with the weights' path drawn on it.
 */
import type { Landscape } from '../lib/landscape.js';
import type { Evaluation } from '../lib/session.js';
import type { Thinned } from '../lib/trajectory.js';
import { fitCanvas, sequential } from './dom.js';
import { drawPlot, legend } from './plot.js';
import type { Series } from './plot.js';

const BATCH = '#9aa3ad',
  TRAIN = '#1f5fa8',
  TEST = '#d1495b',
  DIVERGED = '#b42318';

export function drawLossCurve(
  canvas: HTMLCanvasElement,
  legendEl: HTMLElement,
  batches: Thinned,
  evals: readonly Evaluation[],
  divergedAt: number | null,
): number {
  const series: Series[] = [
    { label: "each step's batch", color: BATCH, kind: 'thin', points: batches.steps.map((s, i) => [s, batches.values[i]!]) },
    { label: 'all training points', color: TRAIN, kind: 'line', points: evals.map((e) => [e.step, e.trainLoss]) },
    { label: 'test points', color: TEST, kind: 'line', points: evals.map((e) => [e.step, e.testLoss]) },
  ];
  legend(legendEl, series);
  return drawPlot(canvas, {
    yLog: true,
    xLabel: 'step',
    yLabel: 'mean loss',
    series,
    markers: divergedAt === null ? [] : [{ x: divergedAt, label: 'diverged: stopped', color: DIVERGED }],
  });
}

/** The landscape as a heat map of log(loss) with contour bands, the path in white, the current weights as a dot. */
export function drawLandscape(canvas: HTMLCanvasElement, l: Landscape, livePath: [number, number][]): void {
  const { ctx, w, h } = fitCanvas(canvas);
  const s = Math.min(w, h);
  const logs = l.losses.map((v) => Math.log10(Math.max(v, 1e-12)));
  const finite = logs.filter(Number.isFinite);
  const lo = Math.min(...finite),
    hi = Math.max(...finite);
  const img = new ImageData(l.size, l.size);
  logs.forEach((v, i) => {
    const t = Number.isFinite(v) ? (v - lo) / (hi - lo || 1) : 1;
    const band = Math.floor(t * 12) % 2 ? 0.92 : 1;
    const [r, g, b] = sequential(t);
    const row = l.size - 1 - Math.floor(i / l.size);
    img.data.set([r * band, g * band, b * band, 255], (row * l.size + (i % l.size)) * 4);
  });
  const off = document.createElement('canvas');
  off.width = off.height = l.size;
  off.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, s, s);
  const P = (a: number, b: number): [number, number] => [((a + l.span) / (2 * l.span)) * s, s - ((b + l.span) / (2 * l.span)) * s];
  const path = livePath.length ? livePath : l.path;
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  path.forEach(([a, b], i) => (i ? ctx.lineTo(...P(a, b)) : ctx.moveTo(...P(a, b))));
  ctx.stroke();
  const end = path.at(-1);
  if (end) {
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(...P(end[0], end[1]), 4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = '#fff';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`loss ${lo > -3 ? (10 ** lo).toPrecision(2) : '≈0'} (dark) to ${(10 ** hi).toPrecision(2)} (light)`, 6, 14);
}
