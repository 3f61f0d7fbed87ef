/**
 * What the page shows, as plain data on `window.__playground`: the numbers behind every panel, for
 * the Chromium tests (and for anyone curious, from the console).
 */
import type { App } from './app.js';

export interface PlaygroundState {
  ready: boolean;
  config: App['session']['config'];
  step: number;
  seconds: number;
  running: boolean;
  diverged: string | null;
  evaluation: App['session']['evaluations'][number];
  evaluations: number;
  /** The predicted class (2-D) or value (1-D) at each point of the drawn grid. */
  boundary: number[];
  batch: number[];
  analysis: {
    step: number;
    size: number;
    relativeDifference: number;
    maxAbsDifference: number;
    cosine: number;
    losses: number[];
    meanOfLosses: number;
    batchLoss: number;
  } | null;
  noise: App['noise'];
  tradeoff: App['tradeoff'];
  landscape: { step: number; size: number; span: number; finite: number } | null;
  backprop: { batch: number; at: number; steps: number };
  drawn: App['drawn'];
  timings: App['timings'];
  errors: string[];
}

export function publish(app: App): void {
  const s = app.session;
  const a = s.analysis;
  const b = app.boundary;
  const state: PlaygroundState = {
    ready: true,
    config: s.config,
    step: s.step,
    seconds: s.seconds,
    running: s.running,
    diverged: s.diverged?.message ?? null,
    evaluation: s.evaluations.at(-1)!,
    evaluations: s.evaluations.length,
    boundary: b ? Array.from(b.values, (v) => (s.problem.inputs === 2 ? (v > 0.5 ? 1 : 0) : v)) : [],
    batch: Array.from(s.loader.current),
    analysis: a && {
      step: a.step,
      size: a.losses.length,
      relativeDifference: a.relativeDifference,
      maxAbsDifference: a.maxAbsDifference,
      cosine: a.cosine,
      losses: a.losses,
      meanOfLosses: a.meanOfLosses,
      batchLoss: a.batchLoss,
    },
    noise: app.noise,
    tradeoff: app.tradeoff,
    landscape: app.landscape && {
      step: app.landscape.step,
      size: app.landscape.l.size,
      span: app.landscape.l.span,
      finite: app.landscape.l.losses.filter(Number.isFinite).length,
    },
    backprop: { batch: app.backprop.walk.batch, at: app.backprop.at, steps: app.backprop.walk.steps.length },
    drawn: app.drawn,
    timings: app.timings,
    errors: app.errors,
  };
  (window as unknown as { __playground: PlaygroundState }).__playground = state;
}
