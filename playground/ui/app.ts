/**
 * The playground page: one training session, the panels that draw it, and two measuring workers
 * (one for the live noise figures and landscape, one for the measurements a button asks for).
 * Training runs in the page through fit(), which yields every few milliseconds; drawing happens
 * once per animation frame, each panel at its own pace, so training keeps most of the time.
 */
import * as d from 'descent';
import { boundary } from '../lib/boundary.js';
import type { Boundary } from '../lib/boundary.js';
import type { Config } from '../lib/config.js';
import { batchLadder, configToParams, trainCount } from '../lib/config.js';
import type { Landscape } from '../lib/landscape.js';
import { project } from '../lib/landscape.js';
import type { BatchAnalysis } from '../lib/minibatch.js';
import type { PoolNoise, VariancePoint } from '../lib/noise.js';
import type { Reply, TradeoffReply } from '../lib/protocol.js';
import { Session } from '../lib/session.js';
import { flatWeights } from '../lib/setup.js';
import { ARROW_KEYS, batchCaption, drawArrows, drawLossBars, proofTable } from './batch-view.js';
import { Controls } from './controls.js';
import { byId, fitCanvas, fmt, pct } from './dom.js';
import { Jobs } from './jobs.js';
import { drawModel } from './model-view.js';
import { drawTradeoff, drawVariance, noiseCaption, tradeoffCaption } from './noise-view.js';
import { drawLandscape, drawLossCurve } from './path-view.js';
import { legend } from './plot.js';
import { BackpropPanel } from './backprop-panel.js';
import { publish } from './state.js';

export interface NoiseState {
  live: { step: number; pool: PoolNoise } | null;
  measured: { step: number; pool: PoolNoise; points: VariancePoint[]; done: boolean; seconds: number } | null;
}

/** How often (ms) each part is redrawn or re-measured while training runs. */
const PACE = { boundary: 200, analysis: 250, curves: 300, noise: 1000, landscape: 2000, path: 300 };

export class App {
  session: Session;
  boundary: Boundary | null = null;
  noise: NoiseState = { live: null, measured: null };
  tradeoff: TradeoffReply | { error: string } | null = null;
  landscape: { step: number; l: Landscape } | null = null;
  drawnAnalysis: BatchAnalysis | null = null;
  errors: string[] = [];
  drawn = { lossCurve: 0, variance: 0, tradeoff: 0 };
  /** Milliseconds spent drawing each part, for the curious (window.__playground.timings). */
  readonly timings: Record<string, number> = {};
  readonly controls: Controls;
  readonly backprop: BackpropPanel;
  private readonly live: Jobs;
  private readonly measure: Jobs;
  /** When the page started: the live measurements wait a moment, so the first paint comes first. */
  private readonly born = performance.now();
  private readonly last = { boundary: -Infinity, analysis: -Infinity, curves: -Infinity, noise: -Infinity, landscape: -Infinity, path: -Infinity };
  private drawnStep = -1;
  private dirty = true;
  /** The boundary was drawn coarse while paused (the first paint): draw it finely next frame. */
  private refine = false;
  private generation = 0;

  constructor(config: Config, workerUrl: URL) {
    this.session = new Session(config);
    const onError = (m: string) => this.errors.push(m);
    this.live = new Jobs(workerUrl, onError);
    this.measure = new Jobs(workerUrl, onError);
    this.controls = new Controls(byId<HTMLFormElement>('controls'), config, (c, restart) => void this.configure(c, restart));
    this.backprop = new BackpropPanel();
    legend(byId('arrows-legend'), ARROW_KEYS);
    this.wire();
    (byId('target') as HTMLInputElement).value = String(config.targetLoss);
    this.drawTradeoff();
    requestAnimationFrame((t) => this.frame(t));
  }

  private wire(): void {
    byId('play').addEventListener('click', () => (this.session.running ? this.session.pause() : void this.play()));
    byId('step').addEventListener('click', () => void this.stepOnce());
    byId('reset').addEventListener('click', () => void this.configure(this.session.config, true));
    byId('show-proof').addEventListener('click', () => this.toggleProof());
    byId('measure').addEventListener('click', () => this.measureVariance());
    byId('race').addEventListener('click', () => this.race());
    byId('target').addEventListener('change', () => {
      const v = Number((byId('target') as HTMLInputElement).value);
      if (v > 0) this.session.update({ ...this.session.config, targetLoss: v });
    });
    window.addEventListener('resize', () => (this.dirty = true));
  }

  /** Train until paused. */
  async play(): Promise<void> {
    this.session.wantAnalysis = true;
    this.setPlaying(true);
    await this.session.train();
    this.setPlaying(false);
    this.dirty = true;
  }

  /** One step: its batch analysed, every panel redrawn. */
  async stepOnce(): Promise<void> {
    if (this.session.running) return;
    this.session.wantAnalysis = true;
    await this.session.train(1);
    this.dirty = true;
  }

  private setPlaying(on: boolean): void {
    const b = byId<HTMLButtonElement>('play');
    b.textContent = on ? 'Pause' : 'Play';
    b.setAttribute('aria-pressed', String(on));
    byId<HTMLButtonElement>('step').disabled = on;
  }

  /** A new configuration: applied at once, or (data, network, loss, seed) a fresh start. */
  async configure(c: Config, restart: boolean): Promise<void> {
    history.replaceState(null, '', `?${configToParams(c)}`);
    if (!restart) {
      this.session.update(c);
      this.dirty = true;
      return;
    }
    const gen = ++this.generation;
    this.session.pause();
    while (this.session.running) await new Promise((r) => setTimeout(r, 5));
    if (gen !== this.generation) return;
    this.session = new Session(c);
    this.controls.write(c);
    (byId('target') as HTMLInputElement).value = String(c.targetLoss);
    this.noise = { live: null, measured: null };
    this.tradeoff = null;
    this.landscape = null;
    this.drawnAnalysis = null;
    this.drawnStep = -1;
    this.dirty = true;
    this.drawTradeoff();
    for (const k of Object.keys(this.last) as (keyof App['last'])[]) this.last[k] = -Infinity;
  }

  private timed<T>(name: string, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.timings[name] = (this.timings[name] ?? 0) + performance.now() - t0;
    }
  }

  private frame(now: number): void {
    try {
      this.timed('draw', () => this.draw(now));
    } catch (e) {
      this.errors.push(e instanceof Error ? e.message : String(e));
    }
    this.timed('publish', () => publish(this));
    requestAnimationFrame((t) => this.frame(t));
  }

  /** Redraw what is due. Paused: everything that changed, at once. */
  private draw(now: number): void {
    const s = this.session;
    const changed = s.step !== this.drawnStep || this.dirty;
    const due = (k: keyof typeof PACE) => changed && this.due(k, now, s.running);
    if (due('boundary')) this.timed('boundary', () => this.drawBoundary());
    if (s.analysis !== this.drawnAnalysis || this.dirty) this.timed('batch', () => this.drawBatch());
    if (s.running && now - this.last.analysis >= PACE.analysis) {
      this.last.analysis = now;
      s.wantAnalysis = true;
    }
    if (due('curves')) this.timed('curves', () => this.drawCurves());
    if (due('path')) this.timed('path', () => this.drawPath());
    this.requestLive(now);
    this.status();
    this.drawnStep = s.step;
    this.dirty = this.refine;
    this.refine = false;
  }

  /** Whether part `k` may be redrawn now (at its pace while training, at once when paused); if so, its clock restarts. */
  private due(k: keyof typeof PACE, now: number, running: boolean): boolean {
    if (running && now - this.last[k] < PACE[k]) return false;
    this.last[k] = now;
    return true;
  }

  private drawBoundary(): void {
    const s = this.session;
    // A coarser grid while training (it is redrawn several times a second), a finer one when paused.
    const fine = !s.running && this.boundary !== null;
    this.boundary = boundary(s.model, s.problem, s.problem.inputs === 1 ? 200 : fine ? 60 : 32);
    this.refine = !fine && !s.running;
    drawModel(byId<HTMLCanvasElement>('boundary'), { data: s.problem.data, boundary: this.boundary, batch: s.loader.current });
    const e = s.evaluations.at(-1)!;
    byId('model-explain').textContent = s.problem.classification
      ? 'Colour: what the network predicts at each point of the plane (orange class 0, blue class 1; the boundary is where it is undecided). Dots with a white ring are training points, dots with a dark ring test points; the circled ones are the mini-batch of the last step.'
      : 'The black curve is what the network predicts for each x; blue dots are training points, orange ones (dark ring) test points; the circled ones are the mini-batch of the last step.';
    byId('model-caption').textContent = s.problem.classification
      ? `Step ${s.step}: accuracy ${pct(e.trainAccuracy)} on the ${s.problem.data.train.n} training points, ${pct(e.testAccuracy)} on the ${s.problem.data.test.n} test points.`
      : `Step ${s.step}: mean squared error ${fmt(e.trainLoss)} on the training points, ${fmt(e.testLoss)} on the test points.`;
  }

  private drawBatch(): void {
    const a = this.session.analysis;
    this.drawnAnalysis = a;
    if (!a) return;
    const data = this.session.problem.data;
    drawArrows(byId<HTMLCanvasElement>('arrows'), a, data);
    drawLossBars(byId<HTMLCanvasElement>('loss-bars'), a, data);
    byId('batch-caption').textContent = batchCaption(a);
    const proof = byId('proof');
    if (!proof.hidden) proof.replaceChildren(proofTable(a));
  }

  private toggleProof(): void {
    const proof = byId('proof');
    proof.hidden = !proof.hidden;
    byId('show-proof').setAttribute('aria-expanded', String(!proof.hidden));
    if (!proof.hidden && this.session.analysis) proof.replaceChildren(proofTable(this.session.analysis));
  }

  private drawCurves(): void {
    const s = this.session;
    this.drawn.lossCurve = drawLossCurve(byId<HTMLCanvasElement>('loss-curve'), byId('loss-legend'), s.batchLosses, s.evaluations, s.diverged?.step ?? null);
    this.drawNoise();
  }

  private drawNoise(): void {
    const { live, measured } = this.noise;
    const pool = measured && (!live || measured.step === live.step || !measured.done) ? measured.pool : (live?.pool ?? null);
    const points = measured && pool === measured.pool ? measured.points : [];
    this.drawn.variance = drawVariance(byId<HTMLCanvasElement>('variance'), byId('variance-legend'), pool, points, this.session.config.batchSize);
    const step = pool === measured?.pool ? measured!.step : (live?.step ?? 0);
    const note = measured && pool !== measured.pool ? ` (Measured points were taken at step ${measured.step}; press Measure again for these weights.)` : '';
    byId('noise-caption').textContent = pool
      ? noiseCaption(pool, step, Math.min(this.session.config.batchSize, pool.N), points) + (measured && !measured.done ? ' Measuring…' : '') + note
      : 'Measuring the gradient noise…';
  }

  private drawPath(): void {
    const l = this.landscape?.l;
    if (!l) return placeholder(byId<HTMLCanvasElement>('landscape'), 'computing the loss landscape…');
    const pts = this.session.trajectory.points().map((p) => project(l, p.weights));
    drawLandscape(byId<HTMLCanvasElement>('landscape'), l, pts);
    const s = this.session;
    byId('path-caption').textContent =
      `Landscape at step ${this.landscape!.step}, path of ${pts.length} recorded weights up to step ${s.step}.` + (s.diverged ? ` ${s.diverged.message}` : '');
  }

  /** Keep the live noise figures and the landscape following training. */
  private requestLive(now: number): void {
    const s = this.session;
    if (this.live.busy || now - this.born < 300) return;
    const gen = this.generation;
    const weights = flatWeights(s.model.parameters());
    if ((this.noise.live?.step ?? -1) !== s.step && now - this.last.noise >= (s.running ? PACE.noise : 0)) {
      this.last.noise = now;
      this.live.run({ kind: 'noise', config: s.config, step: s.step, weights, measure: null }, (r) => gen === this.generation && this.onNoise(r, 'live'));
    } else if ((this.landscape?.step ?? -1) !== s.step && now - this.last.landscape >= (s.running ? PACE.landscape : 0)) {
      this.last.landscape = now;
      const path = s.trajectory.points().map((p) => p.weights);
      this.live.run(
        { kind: 'landscape', config: s.config, step: s.step, center: weights, path, size: 17 },
        (r) => gen === this.generation && this.onLandscape(r),
      );
    }
  }

  private onNoise(r: Reply, which: 'live' | 'measured'): void {
    if (r.kind === 'error') return void this.errors.push(`${r.job}: ${r.message}`);
    if (r.kind !== 'noise') return;
    if (which === 'live') this.noise.live = { step: r.step, pool: r.pool };
    else this.noise.measured = { step: r.step, pool: r.pool, points: r.points, done: r.done, seconds: r.seconds };
    this.drawNoise();
  }

  private onLandscape(r: Reply): void {
    if (r.kind === 'error') return void this.errors.push(`${r.job}: ${r.message}`);
    if (r.kind !== 'landscape') return;
    this.landscape = { step: r.step, l: r.landscape };
    this.drawPath();
  }

  /** Measure the variance against the batch size at the current weights (in the worker). */
  measureVariance(): void {
    const s = this.session;
    const minBatches = Number((byId('draws') as HTMLSelectElement).value);
    const gen = this.generation;
    const weights = flatWeights(s.model.parameters());
    const sent = this.measure.run(
      { kind: 'noise', config: s.config, step: s.step, weights, measure: { minBatches, seed: s.config.seed * 1000 + s.step } },
      (r) => {
        if (r.kind !== 'noise' || r.done) byId<HTMLButtonElement>('measure').disabled = false;
        if (gen === this.generation) this.onNoise(r, 'measured');
      },
    );
    if (sent) {
      byId<HTMLButtonElement>('measure').disabled = true;
      this.noise.measured = null;
    }
  }

  /** Race plain SGD at several batch sizes to the target loss (in the worker). */
  race(): void {
    const s = this.session;
    const N = trainCount(s.config);
    const batchSizes = [...new Set([1, 4, 16, 64, N].filter((b) => b <= N))];
    const gen = this.generation;
    const button = byId<HTMLButtonElement>('race');
    const sent = this.measure.run({ kind: 'tradeoff', config: s.config, target: s.config.targetLoss, batchSizes, lrs: [1, 0.3, 0.1], maxSteps: 1000 }, (r) => {
      button.disabled = false;
      if (gen !== this.generation) return;
      this.tradeoff = r.kind === 'tradeoff' ? r : r.kind === 'error' ? { error: r.message } : null;
      this.drawTradeoff();
    });
    if (sent) {
      button.disabled = true;
      this.tradeoff = null;
      this.drawTradeoff('racing…');
    }
  }

  private drawTradeoff(status = 'press "Race the batch sizes"'): void {
    const t = this.tradeoff;
    const r = t && 'points' in t ? t : null;
    this.drawn.tradeoff = drawTradeoff(byId<HTMLCanvasElement>('tradeoff'), r, t && 'error' in t ? 'not enough batch sizes reached the target' : status);
    byId('tradeoff-caption').textContent = r
      ? tradeoffCaption(r)
      : t && 'error' in t
        ? `${t.error}. Try a larger target loss.`
        : `Trains plain SGD from the starting weights at batch sizes ${batchLadder(trainCount(this.session.config)).length > 1 ? '1, 4, 16, 64 and the full batch' : ''} to the target loss.`;
  }

  private status(): void {
    const s = this.session;
    const e = s.evaluations.at(-1)!;
    const el = byId('status');
    const what = s.problem.classification ? `test accuracy ${pct(e.testAccuracy)}` : `test loss ${fmt(e.testLoss)}`;
    el.textContent = s.diverged
      ? `Diverged: ${s.diverged.message}`
      : `Step ${s.step} · ${s.seconds.toFixed(1)} s of training · batch ${s.config.batchSize} · ${what}${s.running ? '' : ' · paused'}`;
    el.classList.toggle('bad', !!s.diverged);
  }

  /** The environment line: threads and isolation. */
  static environment(): string {
    return crossOriginIsolated
      ? `This page is cross-origin isolated: Descent may use ${d.getNumThreads()} threads (these small networks mostly need one).`
      : 'This page is not cross-origin isolated: Descent runs on one thread.';
  }
}

/** A blank canvas with a line of text in the middle. */
function placeholder(canvas: HTMLCanvasElement, text: string): void {
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.fillStyle = '#f7f8fa';
  ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = '#5d6470';
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(text, w / 2, h / 2);
}
