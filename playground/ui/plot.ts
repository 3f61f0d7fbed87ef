/**
 * A small chart on a canvas: linear or log axes with ticks, lines, dashed lines, points with
 * error bars, vertical markers and a legend. Enough for the playground's curves, with no chart
 * library to load.
 */
import { fitCanvas } from './dom.js';

export interface Series {
  label: string;
  color: string;
  points: readonly (readonly [number, number])[];
  kind: 'line' | 'dashed' | 'points' | 'thin';
  /** Half-lengths of error bars, one per point (points only). */
  errors?: readonly number[];
  /** Text beside each point (points only). */
  labels?: readonly string[];
}

export interface PlotSpec {
  xLog?: boolean;
  yLog?: boolean;
  xLabel: string;
  yLabel: string;
  series: Series[];
  markers?: { x: number; label: string; color: string }[];
  /** Shown in the middle when there is nothing to draw. */
  empty?: string;
}

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
}

const PAD = { left: 52, right: 16, top: 8, bottom: 34 };

function extent(values: number[], log: boolean): Axis {
  const ok = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (!ok.length) return { lo: log ? 1 : 0, hi: log ? 10 : 1, log };
  let lo = Math.min(...ok),
    hi = Math.max(...ok);
  if (log) {
    lo = 10 ** Math.floor(Math.log10(lo) + 1e-9);
    hi = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    if (hi <= lo) hi = lo * 10;
  } else {
    const span = hi - lo || Math.abs(hi) || 1;
    lo -= span * 0.05;
    hi += span * 0.05;
  }
  return { lo, hi, log };
}

function ticks(a: Axis): number[] {
  if (a.log) {
    const out: number[] = [];
    const step = Math.max(1, Math.ceil((Math.log10(a.hi) - Math.log10(a.lo)) / 6));
    for (let e = Math.round(Math.log10(a.lo)); e <= Math.log10(a.hi) + 1e-9; e += step) out.push(10 ** e);
    return out;
  }
  const raw = (a.hi - a.lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(a.lo / step) * step; v <= a.hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const tickText = (v: number, log: boolean) =>
  log ? (v >= 1e4 || v < 1e-2 ? `1e${Math.round(Math.log10(v))}` : String(v)) : Math.abs(v) >= 1e4 ? v.toExponential(0) : String(Number(v.toPrecision(3)));

/** Draw the chart; returns the number of points drawn (for tests). */
export function drawPlot(canvas: HTMLCanvasElement, spec: PlotSpec): number {
  const { ctx, w, h } = fitCanvas(canvas);
  const all = spec.series.flatMap((s) => s.points);
  const xa = extent([...all.map((p) => p[0]), ...(spec.markers ?? []).map((m) => m.x)], !!spec.xLog);
  const ya = extent(
    spec.series.flatMap((s) => s.points.flatMap((p, i) => (s.errors ? [p[1] - s.errors[i]!, p[1] + s.errors[i]!].filter((v) => !spec.yLog || v > 0) : [p[1]]))),
    !!spec.yLog,
  );
  const pw = w - PAD.left - PAD.right,
    ph = h - PAD.top - PAD.bottom;
  const map = (a: Axis, v: number, size: number) =>
    (a.log ? (Math.log10(v) - Math.log10(a.lo)) / (Math.log10(a.hi) - Math.log10(a.lo)) : (v - a.lo) / (a.hi - a.lo)) * size;
  const X = (v: number) => PAD.left + map(xa, v, pw);
  const Y = (v: number) => PAD.top + ph - map(ya, Math.max(v, ya.log ? ya.lo * 1e-3 : -Infinity), ph);
  axes(ctx, spec, xa, ya, X, Y, w, h);
  ctx.save();
  ctx.beginPath();
  ctx.rect(PAD.left, PAD.top, pw, ph);
  ctx.clip();
  let drawn = 0;
  for (const m of spec.markers ?? []) marker(ctx, X(m.x), PAD.top, ph, m, X(m.x) > PAD.left + pw * 0.6);
  for (const s of spec.series) drawn += series(ctx, s, X, Y, !!spec.yLog);
  ctx.restore();
  if (!all.length && spec.empty) {
    ctx.fillStyle = '#5d6470';
    ctx.textAlign = 'center';
    ctx.fillText(spec.empty, PAD.left + pw / 2, PAD.top + ph / 2);
  }
  return drawn;
}

function axes(
  ctx: CanvasRenderingContext2D,
  spec: PlotSpec,
  xa: Axis,
  ya: Axis,
  X: (v: number) => number,
  Y: (v: number) => number,
  w: number,
  h: number,
): void {
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = '#d5d9df';
  ctx.fillStyle = '#5d6470';
  ctx.lineWidth = 1;
  ctx.textAlign = 'center';
  for (const t of ticks(xa)) {
    ctx.beginPath();
    ctx.moveTo(X(t), PAD.top);
    ctx.lineTo(X(t), h - PAD.bottom);
    ctx.stroke();
    ctx.fillText(tickText(t, xa.log), X(t), h - PAD.bottom + 13);
  }
  ctx.textAlign = 'right';
  for (const t of ticks(ya)) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(t));
    ctx.lineTo(w - PAD.right, Y(t));
    ctx.stroke();
    ctx.fillText(tickText(t, ya.log), PAD.left - 4, Y(t) + 4);
  }
  ctx.textAlign = 'center';
  ctx.fillText(spec.xLabel, PAD.left + (w - PAD.left - PAD.right) / 2, h - 4);
  ctx.save();
  ctx.translate(11, PAD.top + (h - PAD.top - PAD.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(spec.yLabel, 0, 0);
  ctx.restore();
}

function marker(ctx: CanvasRenderingContext2D, x: number, top: number, ph: number, m: { label: string; color: string }, labelLeft: boolean): void {
  ctx.strokeStyle = m.color;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(x, top);
  ctx.lineTo(x, top + ph);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = m.color;
  ctx.textAlign = labelLeft ? 'right' : 'left';
  ctx.fillText(m.label, x + (labelLeft ? -4 : 4), top + 12);
}

function series(ctx: CanvasRenderingContext2D, s: Series, X: (v: number) => number, Y: (v: number) => number, yLog: boolean): number {
  const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!yLog || p[1] > 0));
  ctx.strokeStyle = ctx.fillStyle = s.color;
  if (s.kind !== 'points') {
    ctx.lineWidth = s.kind === 'thin' ? 1 : 2;
    ctx.setLineDash(s.kind === 'dashed' ? [6, 4] : []);
    ctx.globalAlpha = s.kind === 'thin' ? 0.45 : 1;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1]))));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    return pts.length;
  }
  s.points.forEach((p, i) => {
    if (!(Number.isFinite(p[1]) && (!yLog || p[1] > 0))) return;
    const e = s.errors?.[i];
    if (e !== undefined && e > 0) {
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(X(p[0]), Y(p[1] + e));
      ctx.lineTo(X(p[0]), Y(yLog ? Math.max(p[1] - e, p[1] * 1e-3) : p[1] - e));
      ctx.stroke();
    }
    ctx.beginPath();
    ctx.arc(X(p[0]), Y(p[1]), 4, 0, 2 * Math.PI);
    ctx.fill();
    if (s.labels?.[i]) ctx.fillText(s.labels[i]!, X(p[0]) + 6, Y(p[1]) - 6);
  });
  return pts.length;
}

/** A legend as HTML: one coloured swatch and label per series. */
export function legend(into: HTMLElement, items: { label: string; color: string; kind: Series['kind'] }[]): void {
  into.replaceChildren(
    ...items.map((s) => {
      const span = document.createElement('span');
      span.className = `key key-${s.kind}`;
      span.style.setProperty('--c', s.color);
      span.textContent = s.label;
      return span;
    }),
  );
}
