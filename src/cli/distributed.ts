/**
 * `descent train` under an MPI launcher (mpirun, mpiexec, srun): data-parallel with no flag.
 * Each rank runs the same command; they check that they agree, rank 0 alone writes the run folder
 * and prints, and the job ends together: an orderly MPI_Finalize when every rank ends the same
 * way, MPI_Abort (the launcher stops the others at once) when one rank fails alone.
 */
import type { Generator } from '../core/random.js';
import { differsAcrossRanks, hash32 } from '../distributed/communicator.js';
import type { MpiCommunicator } from '../distributed/mpi.js';
import { detectMpi, mpiCommunicator } from '../distributed/mpi.js';
import { dpSgdNoise } from '../stats/dp-sgd.js';
import type { FitOptions } from '../train/trainer.js';
import { clipper } from './build.js';
import { UsageError } from './errors.js';
import type { TrainConfig } from './types.js';

/** Options that may differ between ranks: where rank 0 writes, and each host's threads. */
const PER_RANK: readonly string[] = ['out', 'threads'];

/** Set when every rank stops for the same reason, so the job may end with MPI_Finalize. */
let together = false;

/**
 * The job's communicator when this process is one of several MPI ranks; undefined when it was not
 * started by an MPI launcher or is the only rank. Without the MPI addon: a UsageError saying what
 * to install (on rank 0; the other ranks exit with code 2 quietly).
 */
export function startDistributed(env: Record<string, string | undefined>): MpiCommunicator | undefined {
  const launch = detectMpi(env);
  if (!launch || launch.size === 1) return undefined;
  let comm: MpiCommunicator;
  try {
    comm = mpiCommunicator();
  } catch (e) {
    // Rank 0 says it once; the others wait for it to (the launcher stops the job when one ends).
    if ((launch.rank ?? 0) > 0) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
      process.exit(2);
    }
    throw new UsageError(`running under MPI (${launch.variable} is set) but ${(e as Error).message}`);
  }
  process.on('exit', (code) => (code === 0 || together ? comm.finalize() : comm.abort(code)));
  if (comm.size === 1) return undefined;
  return comm;
}

/**
 * Training has ended on every rank (fit returned: its last collective is behind them all), so
 * whatever code a rank exits with now, the job ends with MPI_Finalize (a diverged run exits 1 on
 * every rank, and rank 0 still writes its results).
 */
export function trainingEnded(): void {
  together = true;
}

/**
 * Stop every rank with the same one-line error, as the CLI prints a UsageError: rank 0 prints it,
 * then every rank leaves together (a barrier, then exit code 2 and MPI_Finalize).
 */
function failTogether(comm: MpiCommunicator, message: string): never {
  together = true;
  if (comm.rank === 0) process.stderr.write(`descent: error: ${message}\n`);
  comm.barrier();
  process.exit(2);
}

/**
 * Every rank must train the same thing: the options (but --out and threads), the data's size and
 * the model's. Checked with two small allreduces before anything is written; a mismatch stops
 * every rank with one line naming what differs, instead of a hang at the first gradient exchange.
 */
export function checkSameRun(comm: MpiCommunicator, cfg: TrainConfig, facts: Record<string, number>): void {
  const record = cfg as unknown as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => !PER_RANK.includes(k))
    .sort();
  const factNames = Object.keys(facts).sort();
  const values = [keys.length, ...keys.map((k) => hash32(`${k}=${JSON.stringify(record[k])}`)), ...factNames.map((k) => facts[k]!)];
  const differ = differsAcrossRanks(comm, values);
  if (differ[0]) failTogether(comm, `the ${comm.size} MPI ranks were started with different options; start every rank with the same command`);
  const bad = [...keys.filter((_, i) => differ[i + 1]).map(flagName), ...factNames.filter((_, i) => differ[i + 1 + keys.length])];
  if (bad.length) failTogether(comm, `the ${comm.size} MPI ranks disagree on ${bad.join(', ')}; start every rank with the same command, options and data`);
}

/**
 * A resumed run keeps its global batch when the number of ranks changes: each update still takes
 * accumulate x ranks micro-batches (PyTorch DDP's batch size is per process), so --accumulate is
 * set to what the new number of ranks needs; refused when they cannot split it evenly.
 */
export function keepGlobalBatch(cfg: TrainConfig, savedRanks: number, comm: MpiCommunicator | undefined): void {
  const perUpdate = cfg.accumulate * savedRanks;
  const ranks = comm?.size ?? 1;
  if (perUpdate % ranks !== 0) {
    const message = `--resume: each update of this run takes ${perUpdate} micro-batches (accumulate ${cfg.accumulate} x ${savedRanks} ranks), which ${ranks} ranks cannot share evenly; resume with a number of ranks that divides ${perUpdate}`;
    if (comm) failTogether(comm, message);
    throw new UsageError(message);
  }
  if (cfg.dpClip !== undefined && perUpdate !== ranks) {
    const message = `--resume: this DP-SGD run took one micro-batch per rank on ${perUpdate} ranks, and DP-SGD cannot accumulate micro-batches: resume it on ${perUpdate} ranks`;
    if (comm) failTogether(comm, message);
    throw new UsageError(message);
  }
  cfg.accumulate = perUpdate / ranks;
}

/**
 * What transforms the averaged gradient before each update: DP-SGD's noise under MPI (once per
 * global step, after the allreduce: dpSgdNoise), then --clip-grad-norm.
 */
export function gradTransform(cfg: TrainConfig, dpNoise: Generator, comm: MpiCommunicator | undefined): FitOptions['transformGrads'] {
  const clip = cfg.clipGradNorm ? clipper(cfg.clipGradNorm) : undefined;
  if (!comm || cfg.dpClip === undefined) return clip;
  const noise = dpSgdNoise({ maxGradNorm: cfg.dpClip, noiseMultiplier: cfg.dpNoise!, generator: dpNoise });
  return (grads, info) => (clip ? clip(noise(grads, info)) : noise(grads, info));
}

/** config key -> --flag-name */
function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
