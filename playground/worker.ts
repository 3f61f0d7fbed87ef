/**
 * The playground's measuring worker: gradient noise and measured variances, loss-landscape slices,
 * and the steps-against-examples race, computed with Descent in a Web Worker so the page keeps
 * training and drawing meanwhile.
 */
import * as d from 'descent';
import { setupKey } from './lib/config.js';
import type { Config } from './lib/config.js';
import { computeLandscape } from './lib/landscape.js';
import { autodiffBatchGradient, measuredSizes, measureOne, poolNoise } from './lib/noise.js';
import type { VariancePoint } from './lib/noise.js';
import type { Job, Reply, TradeoffReply } from './lib/protocol.js';
import { buildModel, buildProblem, lossOf, setFlatWeights } from './lib/setup.js';
import type { Problem, Sequential } from './lib/setup.js';

// These networks are small: every op runs on this worker's own thread (a thread pool would only add hand-offs).
d.setNumThreads(1);

const post = (r: Reply) => (self as unknown as { postMessage(m: Reply): void }).postMessage(r);

let cached: { key: string; problem: Problem; model: Sequential } | null = null;

/** The page's problem and network, rebuilt once per setup. */
function setup(config: Config): { problem: Problem; model: Sequential } {
  const key = setupKey(config);
  if (cached?.key !== key) {
    const problem = buildProblem(config);
    cached = { key, problem, model: buildModel(problem) };
  }
  return cached;
}

function noise(job: Extract<Job, { kind: 'noise' }>): void {
  const t0 = performance.now();
  const { problem, model } = setup(job.config);
  setFlatWeights(model.parameters(), job.weights);
  const pool = poolNoise(model, problem);
  const figures = { N: pool.N, sigma2: pool.sigma2, gradNormSq: pool.gradNormSq, noiseScale: pool.noiseScale };
  const points: VariancePoint[] = [];
  const reply = (done: boolean) =>
    post({ kind: 'noise', id: job.id, step: job.step, pool: figures, points: [...points], done, seconds: (performance.now() - t0) / 1000 });
  if (!job.measure) return reply(true);
  const gen = new d.Generator(job.measure.seed);
  for (const B of measuredSizes(pool.N)) {
    points.push(measureOne(pool, B, job.measure.minBatches, gen, (idx) => autodiffBatchGradient(model, problem, idx)));
    reply(false);
  }
  reply(true);
}

function landscape(job: Extract<Job, { kind: 'landscape' }>): void {
  const t0 = performance.now();
  const { problem, model } = setup(job.config);
  const l = computeLandscape(model, problem, job.path, job.center, job.size);
  post({ kind: 'landscape', id: job.id, step: job.step, landscape: l, seconds: (performance.now() - t0) / 1000 });
}

async function tradeoff(job: Extract<Job, { kind: 'tradeoff' }>): Promise<void> {
  const t0 = performance.now();
  const { problem } = setup(job.config);
  const loss = lossOf(job.config);
  const r = await d.stepsExamplesTradeoff({
    makeModel: () => buildModel(problem),
    loss,
    x: problem.xTrain,
    y: problem.yTrain,
    evalX: problem.xTrain,
    evalY: problem.yTrain,
    targetLoss: job.target,
    batchSizes: job.batchSizes,
    lrs: job.lrs,
    maxSteps: job.maxSteps,
    seed: job.config.seed,
  });
  const reached = new Set(r.points.map((p) => p.batch_size));
  const reply: TradeoffReply = {
    ...r,
    target: job.target,
    batchSizes: job.batchSizes,
    lrs: job.lrs,
    maxSteps: job.maxSteps,
    missed: job.batchSizes.filter((b) => !reached.has(b)),
    seconds: (performance.now() - t0) / 1000,
  };
  post({ kind: 'tradeoff', id: job.id, ...reply });
}

const HANDLERS: { [K in Job['kind']]: (job: Extract<Job, { kind: K }>) => void | Promise<void> } = { noise, landscape, tradeoff };

self.onmessage = async (e: MessageEvent<Job>) => {
  const job = e.data;
  try {
    await (HANDLERS[job.kind] as (j: Job) => void | Promise<void>)(job);
  } catch (err) {
    post({ kind: 'error', id: job.id, job: job.kind, message: err instanceof Error ? err.message : String(err) });
  }
};
