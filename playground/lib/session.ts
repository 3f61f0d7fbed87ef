/**
 * One training session: the problem, the network, its optimizer and the mini-batches, trained by
 * Descent's fit() (which yields to the page, stops within one step when paused, and, when the loss
 * or the gradient stops being finite, stops and puts back the last good weights). The session
 * keeps what the panels draw: the loss curves, the weights' trajectory, and, when asked, an
 * analysis of the batch about to be applied, measured at the weights it is applied to.
 * No DOM here: the page reads the session's fields when it draws.
 */
import * as d from 'descent';
import type { Config, OptimizerName } from './config.js';
import { PlaygroundLoader } from './loader.js';
import { analyseBatch } from './minibatch.js';
import type { BatchAnalysis } from './minibatch.js';
import type { Problem, Sequential, Tensor } from './setup.js';
import { buildModel, buildProblem, flatWeights, lossOf, score } from './setup.js';
import { Thinned, Trajectory } from './trajectory.js';

export interface Evaluation {
  step: number;
  trainLoss: number;
  testLoss: number;
  trainAccuracy: number | null;
  testAccuracy: number | null;
  /** Seconds of training so far. */
  seconds: number;
}

function makeOptimizer(name: OptimizerName, params: Tensor[], lr: number): d.Optimizer {
  if (name === 'adam') return new d.Adam(params, { lr });
  return new d.SGD(params, { lr, momentum: name === 'momentum' ? 0.9 : 0 });
}

export class Session {
  readonly problem: Problem;
  readonly model: Sequential;
  readonly loader: PlaygroundLoader;
  optimizer: d.Optimizer;
  step = 0;
  running = false;
  diverged: d.Divergence | null = null;
  /** Loss of each step's batch (before its update), thinned on long runs. */
  readonly batchLosses = new Thinned(4000);
  /** The whole training and test sets, measured every `evalEveryMs` of training (every other one dropped past 2,000). */
  evaluations: Evaluation[] = [];
  readonly trajectory = new Trajectory();
  /** The last analysed batch; a new one is made at the next step once `wantAnalysis` is set. */
  analysis: BatchAnalysis | null = null;
  wantAnalysis = true;
  evalEveryMs = 100;
  /** How long fit() trains before the page gets its turn (ms): longer trains faster, shorter repaints more often. */
  yieldEveryMs = 16;
  private controller: AbortController | null = null;
  private lastEval = -Infinity;
  private secondsBefore = 0;
  private runStart = 0;

  constructor(public config: Config) {
    this.problem = buildProblem(config);
    this.model = buildModel(this.problem);
    this.optimizer = makeOptimizer(config.optimizer, this.model.parameters(), config.lr);
    this.loader = new PlaygroundLoader(this.problem.xTrain, this.problem.yTrain, config.batchSize, config.seed);
    this.evaluate();
    this.trajectory.add(0, flatWeights(this.model.parameters()));
  }

  /** Take the settings that apply at once: learning rate, batch size, optimizer (a new one, on the same weights), target loss. */
  update(next: Config): void {
    if (next.optimizer !== this.config.optimizer) this.optimizer = makeOptimizer(next.optimizer, this.model.parameters(), next.lr);
    for (const g of this.optimizer.paramGroups) g.lr = next.lr;
    this.loader.batchSize = next.batchSize;
    this.config = next;
  }

  /** Seconds spent training so far (playing or stepping). */
  get seconds(): number {
    return this.secondsBefore + (this.running ? (performance.now() - this.runStart) / 1000 : 0);
  }

  /** Measure the loss and accuracy on both sets now. */
  evaluate(): Evaluation {
    const p = this.problem;
    const tr = score(this.model, this.config, p.xTrain, p.yTrain, p.classification);
    const te = score(this.model, this.config, p.xTest, p.yTest, p.classification);
    const e = { step: this.step, trainLoss: tr.loss, testLoss: te.loss, trainAccuracy: tr.accuracy, testAccuracy: te.accuracy, seconds: this.seconds };
    const last = this.evaluations.at(-1);
    if (last?.step === e.step) this.evaluations[this.evaluations.length - 1] = e;
    else this.evaluations.push(e);
    if (this.evaluations.length > 2000) this.evaluations = this.evaluations.filter((_, i, all) => i % 2 === (all.length - 1) % 2);
    return e;
  }

  /** Train until paused (steps = Infinity) or for `steps` steps. Resolves when training stops. */
  async train(steps = Infinity): Promise<d.FitResult | null> {
    if (this.running) return null;
    this.running = true;
    this.diverged = null;
    const controller = (this.controller = new AbortController());
    this.runStart = performance.now();
    let done = 0;
    try {
      const result = await d.fit({
        model: this.model,
        loss: (out, y) => lossOf(this.config)(out, y),
        optimizer: this.optimizer,
        train: this.loader,
        epochs: 1_000_000,
        signal: controller.signal,
        yieldEveryMs: this.yieldEveryMs,
        stepHooks: [(ctx) => this.beforeUpdate(ctx.x, ctx.y)],
        callbacks: [
          {
            onStepEnd: (m) => {
              this.afterUpdate(m.loss);
              if (++done >= steps) controller.abort();
            },
          },
        ],
      });
      if (result.diverged) this.diverged = result.diverged;
      return result;
    } finally {
      this.secondsBefore += (performance.now() - this.runStart) / 1000;
      this.running = false;
      this.controller = null;
      this.evaluate();
    }
  }

  /** Stop within one step. */
  pause(): void {
    this.controller?.abort();
  }

  /** fit's step hook: the batch and the weights it is about to change. */
  private beforeUpdate(x: Tensor, y: Tensor): void {
    const idx = this.loader.consume();
    if (!this.wantAnalysis) return;
    this.wantAnalysis = false;
    this.analysis = analyseBatch(this.model, this.problem, x, y, idx, this.step + 1);
  }

  /** After an update: record the step, and now and then the whole sets' losses and the weights. */
  private afterUpdate(loss: number): void {
    this.step++;
    this.batchLosses.add(this.step, loss);
    this.trajectory.add(this.step, flatWeights(this.model.parameters()));
    const now = performance.now();
    if (now - this.lastEval >= this.evalEveryMs) {
      this.lastEval = now;
      this.evaluate();
    }
  }
}
