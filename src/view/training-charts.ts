/**
 * Live training curves in a page: one call mounts them in an element, and they follow fit() as it
 * trains, in the page or in a Web Worker:
 *
 *   const charts = d.mountTrainingCharts(document.getElementById('charts')!);
 *   await d.fit({ ...options, callbacks: [charts.callback] });          // fit() in the page
 *   worker.onmessage = (e) => charts.update(e.data);                   // or progressCallback() in a worker
 *
 * Four charts, drawn with uPlot (the report pages' chart library): the loss of every step with its
 * smoothed curve, the learning rate, and per epoch the training and validation loss and accuracy;
 * above them one status line (epoch, step, examples/s, or how the run ended). Redrawing is batched
 * to one per animation frame, however fast the steps come, and long runs are thinned (StepSeries)
 * so drawing stays cheap. Browser-only at run time (it needs a DOM); importing it anywhere is safe.
 */
import uPlot from 'uplot';
import type { Callback, EpochMetrics, StepMetrics } from '../train/types.js';
import type { TrainingProgress } from '../train/progress.js';
import { isTrainingProgress, progressCallback } from '../train/progress.js';
import { Smoother, StepSeries } from './series.js';
import { CHART_CSS, PALETTE } from './style.js';

export interface TrainingChartsOptions {
  /** Height of each chart in CSS pixels (default 180). */
  height?: number;
  /** Charts per row (default: 2 when the element is wider than 640 px, else 1). */
  columns?: number;
  /** Smoothing of the step loss, an exponential moving average's weight in [0, 1) (default 0.9). */
  smoothing?: number;
  /** Most points kept per step series; more are merged pairwise (default 2000). */
  maxPoints?: number;
}

export interface TrainingCharts {
  /** The fit() callback that feeds the charts: `fit({ callbacks: [charts.callback] })`. */
  readonly callback: Callback;
  /** Feed one progress message (from progressCallback, e.g. posted by a worker); other messages are ignored. */
  update(message: unknown): void;
  /** Draw now instead of at the next animation frame. */
  draw(): void;
  /** Remove the charts from the element. */
  destroy(): void;
  /** The element the charts live in. */
  readonly element: HTMLElement;
}

interface Chart {
  id: string;
  card: HTMLElement;
  plot: uPlot;
  data: () => uPlot.AlignedData;
}

interface State {
  loss: StepSeries;
  smooth: StepSeries;
  smoother: Smoother;
  lr: StepSeries;
  epochs: EpochMetrics[];
  epochsTotal: number;
  last?: StepMetrics;
  status: string;
}

function injectStyle(doc: Document): void {
  if (doc.getElementById('descent-training-charts-css')) return;
  const style = doc.createElement('style');
  style.id = 'descent-training-charts-css';
  style.textContent = CHART_CSS;
  doc.head.appendChild(style);
}

/** Mount live training charts in `element` (its content is replaced). */
export function mountTrainingCharts(element: HTMLElement, options: TrainingChartsOptions = {}): TrainingCharts {
  return new LiveCharts(element, options);
}

class LiveCharts implements TrainingCharts {
  readonly callback: Callback;
  private readonly s: State;
  private readonly status: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly charts: Chart[];
  private readonly resize: ResizeObserver;
  private readonly height: number;
  private frame = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private drawnAt = -Infinity;
  private drawMs = 0;

  constructor(
    readonly element: HTMLElement,
    private readonly options: TrainingChartsOptions,
  ) {
    const doc = element.ownerDocument;
    injectStyle(doc);
    this.height = options.height ?? 180;
    const maxPoints = options.maxPoints ?? 2000;
    this.s = {
      loss: new StepSeries(maxPoints),
      smooth: new StepSeries(maxPoints),
      smoother: new Smoother(options.smoothing ?? 0.9),
      lr: new StepSeries(maxPoints),
      epochs: [],
      epochsTotal: 0,
      status: 'waiting for training to start',
    };
    element.replaceChildren();
    element.classList.add('descent-charts');
    this.status = doc.createElement('div');
    this.status.className = 'descent-status';
    this.grid = doc.createElement('div');
    this.grid.className = 'descent-grid';
    element.append(this.status, this.grid);
    this.charts = makeCharts(this.grid, this.s, this.width(), this.height);
    this.resize = new ResizeObserver(() => {
      const w = this.width();
      for (const c of this.charts) c.plot.setSize({ width: w, height: this.height });
    });
    this.resize.observe(element);
    this.callback = progressCallback((m) => this.update(m));
    this.status.textContent = this.s.status;
  }

  private get win(): Window & typeof globalThis {
    return this.element.ownerDocument.defaultView ?? (globalThis as Window & typeof globalThis);
  }

  /** Each chart's width for the element's width and the number of columns. */
  private width(): number {
    const w = this.element.clientWidth;
    const cols = this.options.columns ?? (w > 640 ? 2 : 1);
    this.grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    return Math.max(160, Math.floor((w || 640) / cols) - 16);
  }

  update(m: unknown): void {
    if (!isTrainingProgress(m)) return;
    apply(this.s, m);
    if (m.type === 'descent:end') this.draw();
    else this.schedule();
  }

  draw(): void {
    if (this.frame !== 0) this.win.cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.frame = 0;
    this.timer = undefined;
    const t0 = performance.now();
    this.status.textContent = this.s.status;
    for (const c of this.charts) {
      const data = c.data();
      c.plot.setData(data);
      let points = 0;
      for (const ys of data.slice(1)) for (let i = 0; i < ys.length; i++) if (ys[i] !== null && ys[i] !== undefined) points++;
      c.card.setAttribute('data-points', String(points));
    }
    this.drawnAt = performance.now();
    this.drawMs = this.drawnAt - t0;
  }

  /**
   * At most one drawing per animation frame, at most every 100 ms, and never more than a tenth of
   * the page's time (a page that trains in its own thread needs the rest for training).
   */
  private schedule(): void {
    if (this.frame !== 0 || this.timer !== undefined) return;
    const wait = Math.max(0, this.drawnAt + Math.max(100, 10 * this.drawMs) - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.frame = this.win.requestAnimationFrame(() => this.draw());
    }, wait);
  }

  destroy(): void {
    if (this.frame !== 0) this.win.cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.resize.disconnect();
    for (const c of this.charts) c.plot.destroy();
    this.element.replaceChildren();
    this.element.classList.remove('descent-charts');
  }
}

/** Fold one message into the charts' state. */
function apply(s: State, m: TrainingProgress): void {
  if (m.type === 'descent:begin') {
    s.epochsTotal = m.epochs;
    s.status = `training: ${m.epochs} epochs of ${m.batchesPerEpoch} batches`;
  } else if (m.type === 'descent:step') {
    s.loss.push(m.step, m.loss);
    s.smooth.push(m.step, s.smoother.add(m.loss) ?? NaN);
    s.lr.push(m.step, m.lr);
    s.last = m;
    const epoch = s.epochs.at(-1);
    const speed = epoch ? ` · ${Math.round(epoch.examples_per_second).toLocaleString('en-US')} examples/s` : '';
    s.status = `epoch ${m.epoch}/${s.epochsTotal} · batch ${m.batch}/${m.batches} · step ${m.step} · loss ${fmt(m.loss)}${speed}`;
  } else if (m.type === 'descent:epoch') {
    s.epochs.push(m);
    const val = m.val_loss !== undefined ? ` · val loss ${fmt(m.val_loss)}` : '';
    const acc = m.val_accuracy ?? m.train_accuracy;
    s.status = `epoch ${m.epoch}/${s.epochsTotal} done · loss ${fmt(m.train_loss)}${val}${acc !== undefined ? ` · accuracy ${(acc * 100).toFixed(2)}%` : ''}`;
  } else {
    const r = m.result;
    const how = r.diverged ? `diverged: ${r.diverged.message}` : r.aborted ? 'stopped (aborted)' : r.stoppedEarly ? 'stopped early' : 'finished';
    s.status = `${how} · ${r.epochs.length} epochs, ${r.steps} steps in ${r.seconds.toFixed(1)} s`;
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** Whole epochs only on an epoch axis. */
const EPOCH_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

const nums = (xs: (number | undefined)[]): (number | null)[] => xs.map((v) => (v !== undefined && Number.isFinite(v) ? v : null));

/** The four charts and where each takes its data from. */
function makeCharts(grid: HTMLElement, s: State, width: number, height: number): Chart[] {
  const epochX = (): number[] => s.epochs.map((e) => e.epoch);
  const specs: { id: string; title: string; x: string; series: [string, number, number, boolean?][]; data: () => uPlot.AlignedData }[] = [
    {
      id: 'step-loss',
      title: 'Loss per step',
      x: 'step',
      series: [
        ['batch loss', 0, 1],
        ['smoothed', 1, 2],
      ],
      data: () => [s.loss.xs, s.loss.ys, s.smooth.ys.slice(0, s.loss.length)],
    },
    {
      id: 'epoch-loss',
      title: 'Loss per epoch',
      x: 'epoch',
      series: [
        ['train', 1, 2, true],
        ['validation', 2, 2, true],
      ],
      data: () => [epochX(), nums(s.epochs.map((e) => e.train_loss)), nums(s.epochs.map((e) => e.val_loss))],
    },
    {
      id: 'accuracy',
      title: 'Accuracy per epoch',
      x: 'epoch',
      series: [
        ['train', 1, 2, true],
        ['validation', 2, 2, true],
      ],
      data: () => [epochX(), nums(s.epochs.map((e) => e.train_accuracy)), nums(s.epochs.map((e) => e.val_accuracy))],
    },
    { id: 'lr', title: 'Learning rate', x: 'step', series: [['lr', 4, 2]], data: () => [s.lr.xs, s.lr.ys] },
  ];
  return specs.map((spec) => {
    const card = grid.ownerDocument.createElement('section');
    card.className = 'descent-chart';
    card.id = `descent-chart-${spec.id}`;
    const title = grid.ownerDocument.createElement('h4');
    title.textContent = spec.title;
    card.appendChild(title);
    grid.appendChild(card);
    const opts: uPlot.Options = {
      width,
      height,
      scales: { x: { time: false } },
      axes: [{ label: spec.x, incrs: spec.x === 'epoch' ? EPOCH_TICKS : undefined }, {}],
      series: [
        { label: spec.x },
        ...spec.series.map(([label, color, w, dots]) => ({ label, stroke: PALETTE[color]!, width: w, spanGaps: true, points: { show: dots ?? false } })),
      ],
      legend: { live: false },
    };
    return { id: spec.id, card, plot: new uPlot(opts, spec.data(), card), data: spec.data };
  });
}
