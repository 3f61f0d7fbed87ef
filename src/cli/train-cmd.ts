/** `descent train`: resolve options, build data, model and optimizer, fit, report. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { manualSeed } from '../core/random.js';
import { writeFileAtomic } from '../io/atomic.js';
import { resolveCheckpointDir, verifyCheckpoint } from '../train/checkpoint.js';
import { prepareRunFolder, sameFolder } from './run-folder.js';
import { evaluate } from '../train/evaluate.js';
import { fit } from '../train/trainer.js';
import { buildModel, buildOptimizer, buildScheduler, clipper, lossFor, makeLoaders } from './build.js';
import { loadData } from './data.js';
import { checkTrainingMemory, parseByteSize } from './memory.js';
import { nonNegativeInt, nonNegativeNumber, oneOf, positiveInt, positiveNumber, UsageError } from './errors.js';
import { progressCallback } from './progress.js';
import { batchSizeAdvice, dpSgdGradients, dpSgdMetadata, gradientStatsHook } from '../stats/index.js';
import { Generator } from '../core/random.js';
import { startDashboard, writeReport, writeTestPredictions } from '../report/index.js';
import { DataLoader } from '../data/loader.js';
import { noGrad } from '../core/grad-mode.js';
import { scope } from '../core/tensor.js';
import { argmax } from '../ops/index.js';
import type { Module } from '../nn/module.js';
import type { CliData } from './data.js';
import type { Stateful } from '../train/types.js';

/** Every option of a run, resolved and validated; written to the run folder as config.json. */
export interface TrainConfig {
  data: string;
  model: string;
  activation: string;
  dropout: number;
  optimizer: 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  schedule: 'none' | 'step' | 'cosine' | 'warmup-cosine' | 'onecycle' | 'exponential' | 'plateau';
  warmupEpochs: number;
  accumulate: number;
  clipGradNorm?: number;
  labelSmoothing: number;
  valSplit: number;
  earlyStopping?: number;
  labelColumn: string;
  /** CSV: whether the first line is a header; absent: it is if one of its cells is not a number. */
  header?: boolean;
  /** CSV: read empty, NaN and infinite feature cells instead of failing. */
  allowNan: boolean;
  /** Bytes training may use at most (below what the backend can hold); checked from sizes before the model is built. */
  maxMemory?: number;
  seed: number;
  out: string;
  logEvery: number;
  gradStats?: number;
  dpClip?: number;
  dpNoise?: number;
}

const KEYS = ['data', 'model', 'activation', 'dropout', 'optimizer', 'lr', 'momentum', 'nesterov', 'weightDecay', 'batchSize', 'epochs', 'schedule', 'warmupEpochs', 'accumulate', 'clipGradNorm', 'labelSmoothing', 'valSplit', 'earlyStopping', 'labelColumn', 'header', 'allowNan', 'maxMemory', 'seed', 'out', 'logEvery', 'gradStats', 'dpClip', 'dpNoise'] as const;

function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new UsageError(`--config: ${file} does not exist`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new UsageError(`--config: ${file} must hold a JSON object of options`);
  for (const k of Object.keys(cfg)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new UsageError(`--config: ${file} has an unknown option '${k}' (known: ${KEYS.join(', ')})`);
  }
  return cfg as Record<string, unknown>;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Flags typed on the command line win over the config file, which wins over defaults. */
export function resolveConfig(opts: Record<string, unknown>, cmd?: Command): TrainConfig {
  const fromFile = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
  const pick = (k: string): unknown => {
    const src = cmd?.getOptionValueSource(k);
    return src === 'cli' || !(k in fromFile) ? opts[k] : fromFile[k];
  };
  const optional = (k: string, f: (flag: string, v: unknown) => number): number | undefined => {
    const v = pick(k);
    return v === undefined || v === null ? undefined : f(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, v);
  };
  const valSplit = nonNegativeNumber('--val-split', pick('valSplit'));
  if (valSplit >= 1) throw new UsageError(`--val-split must be below 1, got ${valSplit}`);
  const dropout = nonNegativeNumber('--dropout', pick('dropout'));
  if (dropout >= 1) throw new UsageError(`--dropout must be below 1, got ${dropout}`);
  const labelSmoothing = nonNegativeNumber('--label-smoothing', pick('labelSmoothing'));
  if (labelSmoothing > 1) throw new UsageError(`--label-smoothing must be at most 1, got ${labelSmoothing}`);
  const header = pick('header'), allowNan = pick('allowNan') ?? false, maxMemory = pick('maxMemory');
  if (header !== undefined && header !== 'auto' && typeof header !== 'boolean') throw new UsageError(`--header must be true, false or "auto", got ${JSON.stringify(header)}`);
  if (typeof allowNan !== 'boolean') throw new UsageError(`--allow-nan must be true or false, got ${JSON.stringify(allowNan)}`);
  const cfg: TrainConfig = {
    data: String(pick('data')),
    model: String(pick('model')),
    activation: String(pick('activation')),
    dropout,
    optimizer: oneOf('--optimizer', pick('optimizer'), ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'] as const),
    lr: positiveNumber('--lr', pick('lr')),
    momentum: nonNegativeNumber('--momentum', pick('momentum')),
    nesterov: !!pick('nesterov'),
    weightDecay: nonNegativeNumber('--weight-decay', pick('weightDecay')),
    batchSize: positiveInt('--batch-size', pick('batchSize')),
    epochs: positiveInt('--epochs', pick('epochs')),
    // The presets' recipes: cosine annealing for MLPs, one-cycle for convolutional networks.
    schedule: oneOf('--schedule', pick('schedule') ?? (/^(linear|mlp:)/.test(String(pick('model'))) ? 'cosine' : 'onecycle'), ['none', 'step', 'cosine', 'warmup-cosine', 'onecycle', 'exponential', 'plateau'] as const),
    warmupEpochs: nonNegativeInt('--warmup-epochs', pick('warmupEpochs')),
    accumulate: positiveInt('--accumulate', pick('accumulate')),
    clipGradNorm: optional('clipGradNorm', positiveNumber),
    labelSmoothing,
    valSplit,
    earlyStopping: optional('earlyStopping', positiveInt),
    labelColumn: String(pick('labelColumn')),
    header: typeof header === 'boolean' ? header : undefined,
    allowNan,
    maxMemory: maxMemory === undefined || maxMemory === null ? undefined : parseByteSize('--max-memory', maxMemory),
    seed: nonNegativeInt('--seed', pick('seed')),
    out: typeof pick('out') === 'string' ? String(pick('out')) : join('runs', stamp()),
    logEvery: positiveInt('--log-every', pick('logEvery')),
    gradStats: optional('gradStats', positiveInt),
    dpClip: optional('dpClip', positiveNumber),
    dpNoise: optional('dpNoise', nonNegativeNumber),
  };
  if ((cfg.dpClip === undefined) !== (cfg.dpNoise === undefined)) throw new UsageError('DP-SGD needs both --dp-clip and --dp-noise');
  if (cfg.dpClip !== undefined && cfg.accumulate > 1) throw new UsageError('DP-SGD cannot be combined with --accumulate: averaging noisy micro-batches changes the noise');
  return cfg;
}

export async function trainCommand(opts: Record<string, unknown>, cmd: Command): Promise<number> {
  let cfg: TrainConfig;
  const resume = typeof opts.resume === 'string' ? opts.resume : undefined;
  if (resume) {
    // A resumed run takes its configuration from the checkpoint; only --epochs (and output flags) may change.
    checkResumeFlags(cmd);
    const meta = (() => {
      try {
        return verifyCheckpoint(resume); // every file checked against its size and hash first
      } catch (e) {
        throw new UsageError(`--resume: ${(e as Error).message}`);
      }
    })();
    const saved = meta.extra?.config as TrainConfig | undefined;
    if (!saved || typeof saved !== 'object') throw new UsageError(`--resume: ${resume} was not written by descent train (no config in checkpoint.json)`);
    cfg = { ...saved };
    if (cmd.getOptionValueSource('epochs') === 'cli') cfg.epochs = positiveInt('--epochs', opts.epochs);
    if (cmd.getOptionValueSource('maxMemory') === 'cli') cfg.maxMemory = parseByteSize('--max-memory', opts.maxMemory);
    // By default the run goes on in the folder the checkpoint belongs to.
    cfg.out = typeof opts.out === 'string' ? opts.out : dirname(resolveCheckpointDir(resume));
  } else {
    cfg = resolveConfig(opts, cmd);
  }
  manualSeed(cfg.seed);
  const data = loadData(cfg.data, { labelColumn: cfg.labelColumn, valSplit: cfg.valSplit, seed: cfg.seed, header: cfg.header, allowNan: cfg.allowNan });
  checkTrainingMemory(cfg, data);
  const model = buildModel(cfg.model, { inputSize: data.inputSize, numClasses: data.numClasses, activation: cfg.activation, dropout: cfg.dropout, imageShape: data.imageShape });
  const { train, validation, test } = makeLoaders(data, cfg);
  const optimizer = buildOptimizer(cfg, model.parameters());
  const { scheduler, interval } = buildScheduler(cfg, optimizer, train.length);
  const loss = lossFor(cfg);
  const json = !!opts.json;
  const log = (s: string) => process.stderr.write(s + '\n');
  const dashboardPort = opts.dashboard === undefined ? undefined : opts.dashboard === true ? 0 : Number(opts.dashboard);
  if (dashboardPort !== undefined && (!Number.isInteger(dashboardPort) || dashboardPort < 0 || dashboardPort > 65535)) {
    throw new UsageError(`--dashboard: port must be an integer in 0..65535, got ${JSON.stringify(opts.dashboard)}`);
  }
  prepareRunFolder(cfg.out, { overwrite: !!opts.overwrite, continuing: !!resume && sameFolder(cfg.out, dirname(resolveCheckpointDir(resume))) });
  log(`descent: training ${cfg.model} (${model.numParameters().toLocaleString('en-US')} parameters) on ${data.name}: ${data.train.length.toLocaleString('en-US')} train / ${data.test.length.toLocaleString('en-US')} test examples, ${cfg.optimizer} lr ${cfg.lr}, batch ${cfg.batchSize}, ${cfg.epochs} epochs -> ${cfg.out}`);
  let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
  if (dashboardPort !== undefined) {
    try {
      dashboard = await startDashboard(cfg.out, { port: dashboardPort });
    } catch (e) {
      throw new UsageError(`--dashboard: ${(e as Error).message}`);
    }
    log(`descent: live dashboard at ${dashboard.url} (closing the page does not stop training)`);
  }
  writeFileAtomic(join(cfg.out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const dpNoise = new Generator(cfg.seed + 7);
  const statsHook = cfg.gradStats ? gradientStatsHook({ every: cfg.gradStats }) : undefined;
  const result = await fit({
    model, loss, optimizer, scheduler, schedulerInterval: interval,
    train, validation: validation ?? test, epochs: cfg.epochs, accumulate: cfg.accumulate,
    transformGrads: cfg.clipGradNorm ? clipper(cfg.clipGradNorm) : undefined,
    earlyStopping: cfg.earlyStopping ? { patience: cfg.earlyStopping, monitor: 'val_loss' } : undefined,
    stepHooks: statsHook ? [statsHook] : undefined,
    computeGrads: cfg.dpClip !== undefined ? dpSgdGradients({ maxGradNorm: cfg.dpClip, noiseMultiplier: cfg.dpNoise!, generator: dpNoise }) : undefined,
    stateful: { ...(cfg.dpClip !== undefined ? { dpSgdNoise: generatorState(dpNoise) } : {}), ...(statsHook ? { gradientStats: statsHook } : {}) },
    callbacks: [progressCallback(process.stderr, { bar: opts.progress !== false })],
    outDir: cfg.out, logEvery: cfg.logEvery, resumeFrom: resume,
    checkpointExtra: { config: cfg, model: { spec: cfg.model, inputSize: data.inputSize, numClasses: data.numClasses, activation: cfg.activation, dropout: cfg.dropout, imageShape: data.imageShape }, data: { name: data.name, classes: data.classes } },
  });
  const last = result.epochs[result.epochs.length - 1];
  // The final test numbers: from the last epoch when it validated on the test split, else measured now.
  let testLoss = last?.val_loss, testAcc = last?.val_accuracy;
  if (validation || !last) {
    const r = await evaluate(model, test, loss);
    testLoss = r.loss;
    testAcc = r.accuracy;
  }
  const examples = result.epochs.reduce((s, e) => s + e.examples_per_second * e.seconds, 0);
  const trainSeconds = result.epochs.reduce((s, e) => s + e.seconds, 0);
  const summary = {
    test_accuracy: testAcc ?? null,
    test_loss: testLoss ?? null,
    train_loss: last?.train_loss ?? null,
    examples_per_second: trainSeconds > 0 ? Math.round(examples / trainSeconds) : null,
    epochs: result.epochs.length ? result.epochs[result.epochs.length - 1]!.epoch : 0,
    seconds: Number(result.seconds.toFixed(2)),
  };
  const privacy = cfg.dpClip !== undefined ? dpSgdMetadata({ maxGradNorm: cfg.dpClip, noiseMultiplier: cfg.dpNoise!, batchSize: cfg.batchSize, datasetSize: data.train.length, steps: result.steps }) : undefined;
  writeFileAtomic(join(cfg.out, 'summary.json'), JSON.stringify({ ...summary, diverged: result.diverged ?? null, stopped_early: result.stoppedEarly, ...(privacy ? { privacy } : {}) }, null, 2) + '\n');
  if (privacy) log(`descent: DP-SGD with C = ${cfg.dpClip}, sigma = ${cfg.dpNoise} over ${result.steps} steps: epsilon = ${privacy.epsilon === null ? 'unbounded (no noise)' : privacy.epsilon.toFixed(3)} at delta = ${privacy.delta}`);
  if (cfg.gradStats) {
    const noiseScale = lastStatsValue(join(cfg.out, 'metrics.jsonl'));
    if (noiseScale !== undefined) log(`descent: ${batchSizeAdvice(noiseScale, cfg.batchSize)}`);
  }
  const { labels, predictions } = await predictTest(model, data);
  writeTestPredictions(cfg.out, {
    classes: data.classes, labels, predictions,
    images: data.imageShape ? { shape: data.imageShape, pixels: (i) => Float32Array.from(data.test.get(i)[0]!.data) } : undefined,
  });
  const report = writeReport(cfg.out);
  await dashboard?.close();
  log(`descent: report in ${report}`);
  if (result.diverged) log(`descent: ${result.diverged.message}`);
  else log(`descent: done in ${summary.seconds} s: test accuracy ${testAcc === undefined ? '-' : (testAcc * 100).toFixed(2) + '%'}, test loss ${testLoss?.toFixed(4)}; checkpoint in ${join(cfg.out, 'checkpoint')}`);
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  return result.diverged ? 1 : 0;
}

/** Flags a resumed run may set; everything else comes from the checkpoint's config. */
const RESUME_FLAGS = new Set(['resume', 'epochs', 'out', 'overwrite', 'json', 'progress', 'dashboard', 'maxMemory']);

function checkResumeFlags(cmd: Command): void {
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (!RESUME_FLAGS.has(key) && cmd.getOptionValueSource(key) === 'cli') {
      throw new UsageError(`${opt.long ?? key} cannot be combined with --resume: a resumed run continues with the configuration saved in its checkpoint (only --epochs, --out, --overwrite, --max-memory, --json, --no-progress and --dashboard may be given)`);
    }
  }
}

/** A generator's position as a part of the run's checkpointed state. */
function generatorState(g: Generator): Stateful {
  return { stateDict: () => g.getState(), loadStateDict: (s) => g.setState(s as number[]) };
}

/** Predicted and true classes of every test example, in order. */
async function predictTest(model: Module, data: CliData): Promise<{ labels: number[]; predictions: number[] }> {
  const labels: number[] = [], predictions: number[] = [];
  const wasTraining = model.training;
  model.eval();
  for (const [x, y] of new DataLoader(data.test, { batchSize: 512 })) {
    scope(() => {
      predictions.push(...noGrad(() => argmax(model.forward(x!), 1)).dataSync());
      labels.push(...y!.dataSync());
    });
  }
  model.train(wasTraining);
  return { labels, predictions };
}

/** The smoothed noise scale of the last 'stats' line of a run's metrics. */
function lastStatsValue(file: string): number | undefined {
  const lines = readFileSync(file, 'utf8').trim().split('\n').reverse();
  for (const l of lines) {
    const r = JSON.parse(l) as { type?: string; noise_scale_ema?: number };
    if (r.type === 'stats' && typeof r.noise_scale_ema === 'number') return r.noise_scale_ema;
  }
  return undefined;
}
