/**
 * The model panel: what the network predicts over the plane (a heat map, for the 2-D sets) or
 * along x (a curve, for the regression), the training and test points, and the current
 * mini-batch's points circled.
 */
import type { Boundary } from '../lib/boundary.js';
import { EXTENT, gridAt } from '../lib/boundary.js';
import type { DataSet, Points } from '../lib/datasets.js';
import { CLASS_COLORS, diverging, fitCanvas } from './dom.js';

export interface ModelScene {
  data: DataSet;
  boundary: Boundary;
  /** Indices (into the training points) of the last mini-batch. */
  batch: ArrayLike<number>;
}

/** Pixel position of a data coordinate in a square of side `s`. */
const px = (v: number, s: number) => ((v + EXTENT) / (2 * EXTENT)) * s;

function heatmap(ctx: CanvasRenderingContext2D, b: Boundary, s: number): void {
  const img = new ImageData(b.size, b.size);
  for (let i = 0; i < b.size * b.size; i++) {
    const [r, g, bl] = diverging(b.values[i]!);
    img.data.set([r, g, bl, 255], i * 4);
  }
  const off = document.createElement('canvas');
  off.width = off.height = b.size;
  off.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, s, s);
}

function dot(ctx: CanvasRenderingContext2D, x: number, y: number, color: string, ring: string | null, r = 3.5): void {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 1.2;
  ctx.strokeStyle = ring ?? '#fff';
  ctx.stroke();
}

function points2d(ctx: CanvasRenderingContext2D, p: Points, s: number, test: boolean): void {
  for (let i = 0; i < p.n; i++) dot(ctx, px(p.x[2 * i]!, s), s - px(p.x[2 * i + 1]!, s), CLASS_COLORS[p.y[i]!]!, test ? '#1d1f24' : null);
}

function batchRings(ctx: CanvasRenderingContext2D, scene: ModelScene, s: number, pos: (i: number) => [number, number]): void {
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#111';
  for (let k = 0; k < scene.batch.length; k++) {
    const [x, y] = pos(scene.batch[k]!);
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

function draw2d(ctx: CanvasRenderingContext2D, scene: ModelScene, s: number): void {
  heatmap(ctx, scene.boundary, s);
  points2d(ctx, scene.data.train, s, false);
  points2d(ctx, scene.data.test, s, true);
  const t = scene.data.train;
  batchRings(ctx, scene, s, (i) => [px(t.x[2 * i]!, s), s - px(t.x[2 * i + 1]!, s)]);
}

function draw1d(ctx: CanvasRenderingContext2D, scene: ModelScene, s: number): void {
  ctx.fillStyle = '#f7f8fa';
  ctx.fillRect(0, 0, s, s);
  ctx.strokeStyle = '#d5d9df';
  ctx.beginPath();
  ctx.moveTo(0, s / 2);
  ctx.lineTo(s, s / 2);
  ctx.stroke();
  const { train, test } = scene.data;
  for (let i = 0; i < test.n; i++) dot(ctx, px(test.x[i]!, s), s - px(test.y[i]!, s), CLASS_COLORS[0], '#1d1f24');
  for (let i = 0; i < train.n; i++) dot(ctx, px(train.x[i]!, s), s - px(train.y[i]!, s), CLASS_COLORS[1], null);
  const b = scene.boundary;
  ctx.strokeStyle = '#111';
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  for (let i = 0; i < b.size; i++) {
    const x = px(gridAt(i, b.size), s),
      y = s - px(Math.max(-2 * EXTENT, Math.min(2 * EXTENT, b.values[i]!)), s);
    if (i) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
  }
  ctx.stroke();
  batchRings(ctx, scene, s, (i) => [px(train.x[i]!, s), s - px(train.y[i]!, s)]);
}

export function drawModel(canvas: HTMLCanvasElement, scene: ModelScene): void {
  const { ctx, w, h } = fitCanvas(canvas);
  const s = Math.min(w, h);
  if (scene.data.train.dims === 2) draw2d(ctx, scene, s);
  else draw1d(ctx, scene, s);
}
