/** `descent train`: resolve options, build data, model and optimizer, fit, report. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { manualSeed } from '../core/random.js';
import { writeFileAtomic } from '../io/atomic.js';
import { resolveCheckpointDir } from '../train/checkpoint.js';
import { prepareRunFolder, sameFolder } from './run-folder.js';
import { checkpointFrom, runFolder } from '../train/run-folder.js';
import type { Checkpoint } from '../train/store.js';
import { evaluate } from '../train/evaluate.js';
import { fit } from '../train/trainer.js';
import type { FitOptions } from '../train/trainer.js';
import { buildModel, buildOptimizer, buildScheduler, lossFor, makeLoaders } from './build.js';
import { loadData } from './data.js';
import { checkTrainingMemory } from './memory.js';
import { UsageError } from './errors.js';
import { checkResumeFlags, flagOf, resolveOptions, TRAIN_OPTIONS, useBackendAsync, type OptionSpec } from './options.js';
import { formatLr, plural, progressCallback } from './progress.js';
import { batchSizeAdvice, dpSgdGradients, dpSgdMetadata, gradientStatsHook } from '../stats/index.js';
import { Generator } from '../core/random.js';
import { startDashboard, writeReport, writeTestPredictions } from '../report/index.js';
import { DataLoader } from '../data/loader.js';
import { noGrad } from '../core/grad-mode.js';
import { keep, scope } from '../core/tensor.js';
import { argmax } from '../ops/index.js';
import type { Module } from '../nn/module.js';
import type { CliData } from './data.js';
import type { FitResult, Stateful } from '../train/types.js';
import type { TrainConfig } from './types.js';
import { stdout } from './io.js';
import { checkSameRun, gradTransform, keepGlobalBatch, startDistributed, trainingEnded } from './distributed.js';
import type { MpiCommunicator } from '../distributed/mpi.js';
import { SyncBatchNorm } from '../nn/sync-norm.js';

function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new UsageError(`--config: ${file} does not exist`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new UsageError(`--config: ${file} must hold a JSON object of options`);
  const keys = Object.keys(TRAIN_OPTIONS);
  for (const k of Object.keys(cfg)) {
    if (!keys.includes(k)) throw new UsageError(`--config: ${file} has an unknown option '${k}' (known: ${keys.join(', ')})`);
  }
  return cfg as Record<string, unknown>;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Flags typed on the command line win over the config file, which wins over DESCENT_BACKEND and defaults. */
export function resolveConfig(opts: Record<string, unknown>, cmd?: Command): TrainConfig {
  const fromFile = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
  const cfg = resolveOptions(TRAIN_OPTIONS, opts, cmd, fromFile) as Omit<TrainConfig, 'schedule' | 'out'> & Partial<TrainConfig>;
  // The presets' recipes: cosine annealing for MLPs, one-cycle for convolutional networks.
  cfg.schedule ??= /^(linear|mlp:)/.test(cfg.model) ? 'cosine' : 'onecycle';
  cfg.out ??= join('runs', stamp());
  if ((cfg.dpClip === undefined) !== (cfg.dpNoise === undefined)) throw new UsageError('DP-SGD needs both --dp-clip and --dp-noise');
  if (cfg.dpClip !== undefined && cfg.accumulate > 1)
    throw new UsageError('DP-SGD cannot be combined with --accumulate: averaging noisy micro-batches changes the noise');
  return cfg as TrainConfig;
}

/**
 * The configuration saved in a checkpoint, with the options a resumed run may set taken from the
 * command line, and fields older checkpoints lack read as their defaults.
 */
function resumedConfig(saved: TrainConfig, opts: Record<string, unknown>, cmd: Command): TrainConfig {
  const cfg: Record<string, unknown> = { ...saved };
  for (const [key, spec] of Object.entries(TRAIN_OPTIONS) as [string, OptionSpec][]) {
    const src = cmd.getOptionValueSource(key);
    if (spec.resume && (src === 'cli' || src === 'env')) cfg[key] = spec.parse!(flagOf(spec), opts[key]);
    else if (!(key in saved) && spec.default !== undefined) cfg[key] = spec.parse!(flagOf(spec), spec.default);
  }
  return cfg as unknown as TrainConfig;
}

export async function trainCommand(opts: Record<string, unknown>, cmd: Command): Promise<number> {
  const comm = startDistributed(process.env); // under mpirun / srun: data-parallel (distributed.ts)
  const lead = !comm || comm.rank === 0;
  const resume = typeof opts.resume === 'string' ? opts.resume : undefined;
  const resumed = resume ? configForResume(resume, opts, cmd) : undefined;
  const cfg = resumed?.cfg ?? resolveConfig(opts, cmd);
  Object.assign(cfg, await useBackendAsync(cfg.backend)); // config.json and checkpoints record where the run computed
  if (resumed) keepGlobalBatch(cfg, cfg.ranks ?? 1, comm);
  delete cfg.ranks;
  delete cfg.globalBatch;
  if (comm) Object.assign(cfg, { ranks: comm.size, globalBatch: cfg.batchSize * cfg.accumulate * comm.size });
  manualSeed(cfg.seed);
  // Everything is checked (data, memory, model, flags, the run folder) before anything is written.
  const data = loadData(cfg.data, {
    labelColumn: cfg.labelColumn,
    valSplit: cfg.valSplit,
    seed: cfg.seed,
    header: cfg.header,
    allowNan: cfg.allowNan,
    stream: cfg.stream,
  });
  checkTrainingMemory(cfg, data);
  const model = buildModel(cfg.model, {
    inputSize: data.inputSize,
    numClasses: data.numClasses,
    activation: cfg.activation,
    dropout: cfg.dropout,
    imageShape: data.imageShape,
  });
  if (comm) checkSameRun(comm, cfg, { trainExamples: data.train.length, testExamples: data.test.length, parameters: model.numParameters() });
  if (comm && cfg.syncBn) syncBatchNorm(model, comm, data.train.length, cfg.batchSize);
  const dashboardPort = parseDashboardPort(opts.dashboard);
  if (lead) prepareRunFolder(cfg.out, { overwrite: !!opts.overwrite, continuing: !!resume && sameFolder(cfg.out, dirname(resolveCheckpointDir(resume))) });
  const batch = comm
    ? `batch ${cfg.batchSize} per rank x ${plural(comm.size, 'MPI rank')}${cfg.accumulate > 1 ? ` x accumulate ${cfg.accumulate}` : ''} = global batch ${cfg.globalBatch}`
    : `batch ${cfg.batchSize}`;
  if (lead)
    log(
      `descent: training ${cfg.model} (${model.numParameters().toLocaleString('en-US')} parameters) on ${data.name}: ${data.train.length.toLocaleString('en-US')} train / ${data.test.length.toLocaleString('en-US')} test examples, ${cfg.optimizer} lr ${formatLr(cfg.lr)}, ${batch}, ${plural(cfg.epochs, 'epoch')} on ${cfg.backend} -> ${cfg.out}`,
    );
  const dashboard = dashboardPort === undefined || !lead ? undefined : await openDashboard(cfg.out, dashboardPort);
  if (lead) writeFileAtomic(join(cfg.out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const loaders = makeLoaders(data, cfg, comm);
  const loss = lossFor(cfg);
  const result = await fit(fitOptions(cfg, data, model, loaders, loss, { resume: resumed?.checkpoint, bar: opts.progress !== false, comm }));
  if (comm) trainingEnded();
  if (!lead) return result.diverged ? 1 : 0;
  const summary = await writeResults(cfg, data, model, loaders.test, loss, result, !!loaders.validation);
  await dashboard?.close();
  if (result.diverged) log(`descent: ${result.diverged.message}`);
  else
    log(
      `descent: done in ${summary.seconds} s: test accuracy ${summary.test_accuracy === null ? '-' : (summary.test_accuracy * 100).toFixed(2) + '%'}, test loss ${summary.test_loss?.toFixed(4)}; checkpoint in ${join(cfg.out, 'checkpoint')}`,
    );
  if (opts.json) stdout(JSON.stringify(result.diverged ? { ...summary, diverged: result.diverged } : summary) + '\n');
  return result.diverged ? 1 : 0;
}

const log = (s: string): void => {
  process.stderr.write(s + '\n');
};

/**
 * A resumed run's configuration: the checkpoint's, with the flags a resume may set; and the
 * checkpoint itself, read and verified once (every file against its size and hash) before anything.
 */
function configForResume(resume: string, opts: Record<string, unknown>, cmd: Command): { cfg: TrainConfig; checkpoint: Checkpoint } {
  checkResumeFlags(cmd);
  let checkpoint: Checkpoint;
  try {
    checkpoint = checkpointFrom(resume);
  } catch (e) {
    throw new UsageError(`--resume: ${(e as Error).message}`);
  }
  const saved = checkpoint.meta.extra?.config as TrainConfig | undefined;
  if (!saved || typeof saved !== 'object') throw new UsageError(`--resume: ${resume} was not written by descent train (no config in checkpoint.json)`);
  const cfg = resumedConfig(saved, opts, cmd);
  // By default the run goes on in the folder the checkpoint belongs to.
  cfg.out = typeof opts.out === 'string' ? opts.out : dirname(resolveCheckpointDir(resume));
  return { cfg, checkpoint };
}

function parseDashboardPort(flag: unknown): number | undefined {
  if (flag === undefined) return undefined;
  const port = flag === true ? 0 : Number(flag);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--dashboard: port must be an integer in 0..65535, got ${JSON.stringify(flag)}`);
  return port;
}

async function openDashboard(dir: string, port: number): Promise<Awaited<ReturnType<typeof startDashboard>>> {
  try {
    const dashboard = await startDashboard(dir, { port });
    log(`descent: live dashboard at ${dashboard.url} (closing the page does not stop training)`);
    return dashboard;
  } catch (e) {
    throw new UsageError(`--dashboard: ${(e as Error).message}`);
  }
}

/** fit()'s options for the run: its parts, DP-SGD and gradient statistics, the run folder. */
function fitOptions(
  cfg: TrainConfig,
  data: CliData,
  model: Module,
  loaders: ReturnType<typeof makeLoaders>,
  loss: ReturnType<typeof lossFor>,
  o: { resume?: Checkpoint; bar: boolean; comm?: MpiCommunicator },
): FitOptions {
  const optimizer = buildOptimizer(cfg, model.parameters());
  // Under MPI one update takes accumulate x ranks of the epoch's batches.
  const { scheduler, interval } = buildScheduler({ ...cfg, accumulate: cfg.accumulate * (o.comm?.size ?? 1) }, optimizer, loaders.train.length);
  const lead = !o.comm || o.comm.rank === 0;
  const dpNoise = new Generator(cfg.seed + 7);
  const statsHook = cfg.gradStats ? gradientStatsHook({ every: cfg.gradStats }) : undefined;
  return {
    model,
    loss,
    optimizer,
    scheduler,
    schedulerInterval: interval,
    train: loaders.train,
    validation: loaders.validation ?? loaders.test,
    epochs: cfg.epochs,
    accumulate: cfg.accumulate,
    transformGrads: gradTransform(cfg, dpNoise, o.comm),
    earlyStopping: cfg.earlyStopping ? { patience: cfg.earlyStopping, monitor: 'val_loss' } : undefined,
    stepHooks: statsHook ? [statsHook] : undefined,
    // Under MPI each rank clips only; the noise is added once per global step (gradTransform).
    computeGrads:
      cfg.dpClip !== undefined ? dpSgdGradients({ maxGradNorm: cfg.dpClip, noiseMultiplier: o.comm ? 0 : cfg.dpNoise!, generator: dpNoise }) : undefined,
    stateful: { ...(cfg.dpClip !== undefined ? { dpSgdNoise: generatorState(dpNoise) } : {}), ...(statsHook ? { gradientStats: statsHook } : {}) },
    callbacks: lead ? [progressCallback(process.stderr, { bar: o.bar })] : [],
    ...(lead ? runFolder(cfg.out, { resumeFrom: o.resume }) : { resume: o.resume }),
    communicator: o.comm,
    logEvery: cfg.logEvery,
    checkpointExtra: {
      config: cfg,
      model: {
        spec: cfg.model,
        inputSize: data.inputSize,
        numClasses: data.numClasses,
        activation: cfg.activation,
        dropout: cfg.dropout,
        imageShape: data.imageShape,
      },
      data: { name: data.name, classes: data.classes },
    },
  };
}

/** summary.json, test-predictions.json and report.html of a finished run; returns the summary. */
async function writeResults(
  cfg: TrainConfig,
  data: CliData,
  model: Module,
  test: DataLoader,
  loss: ReturnType<typeof lossFor>,
  result: FitResult,
  separateValidation: boolean,
) {
  const last = result.epochs[result.epochs.length - 1];
  // The final test numbers: from the last epoch when it validated on the test split, else measured now.
  let testLoss = last?.val_loss,
    testAcc = last?.val_accuracy;
  if (separateValidation || !last) {
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
    epochs: last ? last.epoch : 0,
    seconds: Number(result.seconds.toFixed(2)),
    backend: cfg.backend,
    threads: cfg.threads,
  };
  const privacy = privacyOf(cfg, data.train.length, result.steps);
  writeFileAtomic(
    join(cfg.out, 'summary.json'),
    JSON.stringify({ ...summary, diverged: result.diverged ?? null, stopped_early: result.stoppedEarly, ...(privacy ? { privacy } : {}) }, null, 2) + '\n',
  );
  if (privacy)
    log(
      `descent: DP-SGD with C = ${cfg.dpClip}, sigma = ${cfg.dpNoise} over ${result.steps} steps: epsilon = ${privacy.epsilon === null ? 'unbounded (no noise)' : privacy.epsilon.toFixed(3)} at delta = ${privacy.delta}`,
    );
  if (cfg.gradStats) {
    const noiseScale = lastStatsValue(join(cfg.out, 'metrics.jsonl'));
    if (noiseScale !== undefined) log(`descent: ${batchSizeAdvice(noiseScale, cfg.batchSize)}`);
  }
  const { labels, predictions } = await predictTest(model, data);
  writeTestPredictions(cfg.out, {
    classes: data.classes,
    labels,
    predictions,
    images: data.imageShape ? { shape: data.imageShape, pixels: (i) => Float32Array.from(data.test.get(i)[0]!.data) } : undefined,
  });
  log(`descent: report in ${writeReport(cfg.out)}`);
  return summary;
}

/** DP-SGD's privacy parameters and spent epsilon; the sample rate is the global batch's (under MPI, all ranks' examples). */
function privacyOf(cfg: TrainConfig, examples: number, steps: number): ReturnType<typeof dpSgdMetadata> | undefined {
  if (cfg.dpClip === undefined) return undefined;
  return dpSgdMetadata({ maxGradNorm: cfg.dpClip, noiseMultiplier: cfg.dpNoise!, batchSize: cfg.globalBatch ?? cfg.batchSize, datasetSize: examples, steps });
}

/** A generator's position as a part of the run's checkpointed state. */
function generatorState(g: Generator): Stateful {
  return { stateDict: () => g.getState(), loadStateDict: (s) => g.setState(s as number[]) };
}

/** Predicted and true classes of every test example, in order. */
async function predictTest(model: Module, data: CliData): Promise<{ labels: number[]; predictions: number[] }> {
  const labels: number[] = [],
    predictions: number[] = [];
  const wasTraining = model.training;
  model.eval();
  for (const [x, y] of new DataLoader(data.test, { batchSize: 512 })) {
    // read asynchronously: on webgpu the batch and the predictions live in GPU memory
    const pred = keep(scope(() => noGrad(() => argmax(model.forward(x!), 1))));
    try {
      predictions.push(...(await pred.dataAsync()));
      labels.push(...(await y!.dataAsync()));
    } finally {
      for (const t of [pred, x!, y!]) t.dispose();
    }
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

/**
 * --sync-bn under MPI: every BatchNorm of the model becomes a SyncBatchNorm over the ranks. Its
 * statistics are a collective call in every forward pass, so every rank must train the same number
 * of batches: an epoch of `batches` that does not divide over the ranks is a usage error here,
 * before anything is written (fit would refuse it later, on every rank).
 */
function syncBatchNorm(model: Module, comm: MpiCommunicator, examples: number, batchSize: number): void {
  SyncBatchNorm.convertSyncBatchnorm(model, comm);
  const batches = Math.ceil(examples / batchSize);
  if (batches % comm.size !== 0 && model.namedModules().some(([, m]) => m instanceof SyncBatchNorm))
    throw new UsageError(
      `--sync-bn: ${examples} training examples at --batch-size ${batchSize} make ${batches} batches an epoch, which do not divide over the ${comm.size} ranks; a synchronised BatchNorm needs every rank in every forward pass: choose a batch size that gives a multiple of ${comm.size} batches`,
    );
}
