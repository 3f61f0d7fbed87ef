/** Small DOM helpers for the playground's panels. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`playground: no element #${id} in the page`);
  return e as T;
}

type Child = Node | string | null | undefined | false;

/** An element with attributes (class, data-*, aria-*...) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** A number for reading: 4 significant digits, exponent form for the very small and very large. */
export function fmt(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(digits - 2);
  return Number(v.toPrecision(digits)).toString();
}

export const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);

/** A canvas sized to its box in device pixels; returns the 2-D context scaled to CSS pixels, and the CSS size. */
export function fitCanvas(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, canvas.clientWidth),
    h = Math.max(1, canvas.clientHeight);
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  // The context keeps its state between drawings: start each one from the defaults.
  ctx.textAlign = 'left';
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
  return { ctx, w, h };
}

/** The two classes' colours and the diverging map between them (TensorFlow Playground's orange and blue). */
export const CLASS_COLORS = ['#e8891d', '#1f77b4'] as const;
const LO = [245, 147, 34],
  MID = [232, 234, 235],
  HI = [8, 119, 189];

/** p in [0, 1] -> an RGB triple from orange (0) through light grey (0.5) to blue (1). */
export function diverging(p: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, p));
  const [a, b, u] = t < 0.5 ? [LO, MID, t * 2] : [MID, HI, (t - 0.5) * 2];
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * u)) as [number, number, number];
}

/** t in [0, 1] -> a sequential map (dark blue, low, to yellow, high), for losses. */
export function sequential(t: number): [number, number, number] {
  const stops = [
    [13, 8, 135],
    [126, 3, 168],
    [204, 71, 120],
    [248, 149, 64],
    [240, 249, 33],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const u = x - i;
  return [0, 1, 2].map((k) => Math.round(stops[i]![k]! + (stops[i + 1]![k]! - stops[i]![k]!) * u)) as [number, number, number];
}
