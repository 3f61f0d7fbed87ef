/**
 * The CLI's options, each declared once: its flag, help, default, allowed values, how its value is
 * checked, and whether a resumed run may set it. Parsing (commander), validation, help text,
 * `--config` files (camelCase keys) and config.json all come from these tables. Choices come from
 * the library's registries, so the CLI cannot drift from what the library accepts.
 */
import { Command, Option } from 'commander';
import { getBackend, getNumThreads, listBackends, setBackend, setBackendAsync, wasmFeatures } from '../backend/index.js';
import { ACTIVATION_CHOICES } from '../nn/registry.js';
import { OPTIMIZER_NAMES, SCHEDULE_NAMES } from '../optim/registry.js';
import { nonNegativeInt, nonNegativeNumber, oneOf, positiveInt, positiveNumber, UsageError } from './errors.js';
import { parseByteSize } from './memory.js';
import type { TrainConfig } from './types.js';

/** One option. Its key (the table's key) is the camelCase attribute, --config key and config.json field. */
export interface OptionSpec<T = unknown> {
  /** commander flags: '--lr <rate>', '--nesterov', '--no-progress', '--dashboard [port]'. */
  flags: string;
  help: string;
  /** Shown in help (numbers as numbers) and used when neither the flag nor --config gives a value. */
  default?: string | number | boolean;
  /** Allowed values, listed in help and in the error for any other value. */
  choices?: () => readonly string[];
  /** Check and convert a value from the command line, a --config file or the default. */
  parse?: (flag: string, v: unknown) => T;
  /** May be given together with --resume (everything else comes from the checkpoint). */
  resume?: boolean;
  /** Help for the matching --no-... flag (e.g. --header / --no-header). */
  negate?: string;
  /** An environment variable that sets the value when the flag is not given. */
  env?: string;
}

export type OptionTable = Record<string, OptionSpec>;

/** The flag of an option as users type it: '--batch-size'. */
export function flagOf(spec: OptionSpec): string {
  return spec.flags.split(/[ ,]/)[0]!;
}

const optional =
  <T>(p: (flag: string, v: unknown) => T) =>
  (flag: string, v: unknown): T | undefined =>
    v === undefined || v === null ? undefined : p(flag, v);
const below =
  (limit: number, inclusive = false) =>
  (flag: string, v: unknown): number => {
    const n = nonNegativeNumber(flag, v);
    if (inclusive ? n > limit : n >= limit) throw new UsageError(`${flag} must be ${inclusive ? 'at most' : 'below'} ${limit}, got ${n}`);
    return n;
  };
const text = (flag: string, v: unknown): string => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`${flag} must be a string, got ${JSON.stringify(v)}`);
  return String(v);
};
const bool = (flag: string, v: unknown): boolean => {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new UsageError(`${flag} must be true or false, got ${JSON.stringify(v)}`);
  return v;
};
function choice<T extends string>(list: () => readonly T[]) {
  return (flag: string, v: unknown): T => oneOf(flag, v, list());
}

/** Backends this runtime has ('wasm' needs WebAssembly SIMD; 'webgpu' starts when chosen, and says then if it cannot). */
export const backendChoices = (): readonly string[] => [...new Set([...listBackends(), 'webgpu'])];

function parseBackend(flag: string, v: unknown): string {
  const have = backendChoices();
  if (typeof v === 'string' && have.includes(v)) return v;
  const why = v === 'wasm' && !wasmFeatures().simd ? ' (wasm needs WebAssembly SIMD, which this runtime lacks)' : '';
  throw new UsageError(`${flag} must be one of ${have.join(', ')}, got ${JSON.stringify(v)}${why}`);
}

/** --backend, on every command that computes: the same as DESCENT_BACKEND, which it overrides. */
export const BACKEND_OPTION = {
  flags: '--backend <name>',
  help: 'where to compute (default: wasm where WebAssembly SIMD is available, else js)',
  choices: backendChoices,
  parse: (flag: string, v: unknown) => (v === undefined || v === null || v === '' ? undefined : parseBackend(flag, v)), // an empty DESCENT_BACKEND is unset
  env: 'DESCENT_BACKEND',
  resume: true,
} satisfies OptionSpec<string | undefined>;

/**
 * Switch to a CPU backend (undefined: keep the default); returns its name and thread count. The
 * commands that can run on webgpu call useBackendAsync, which starts it.
 */
export function useBackend(name: string | undefined): { backend: string; threads: number } {
  if (name !== undefined) setBackend(parseBackend('--backend', name));
  const backend = getBackend().name;
  return { backend, threads: backend === 'js' ? 1 : getNumThreads() };
}

/**
 * useBackend for the commands that run on any backend (all but export): webgpu is started here
 * (finding an adapter and a device; in Node through the optional \`webgpu\` package), and a failure
 * to start is one line saying why and what to install.
 */
export async function useBackendAsync(name: string | undefined): Promise<{ backend: string; threads: number }> {
  if (name === 'webgpu') {
    try {
      await setBackendAsync('webgpu');
    } catch (e) {
      throw new UsageError(`--backend webgpu: ${(e as Error).message.split('\n')[0]}`);
    }
    return { backend: 'webgpu', threads: 1 };
  }
  return useBackend(name);
}

/** CSV reading, for every command that reads CSV files. */
export const CSV_OPTIONS = {
  header: {
    flags: '--header',
    help: 'CSV: the first line names the columns (default: it does if one of its cells is not a number)',
    negate: 'CSV: the first line is data',
    parse: (flag: string, v: unknown): boolean | undefined => {
      if (v === undefined || v === null || v === 'auto') return undefined;
      if (typeof v !== 'boolean') throw new UsageError(`${flag} must be true, false or "auto", got ${JSON.stringify(v)}`);
      return v;
    },
  },
  allowNan: { flags: '--allow-nan', help: 'CSV: read empty, NaN and infinite feature cells as NaN / Inf instead of failing', parse: bool },
} satisfies OptionTable;

type ConfigKey = Exclude<keyof TrainConfig, 'threads' | 'ranks' | 'globalBatch'>;

/**
 * The options of a run, one per field of TrainConfig (a missing one does not compile), in help
 * order. A value that is undefined after parsing (an optional option not given) is left out.
 */
export const TRAIN_OPTIONS: { [K in ConfigKey]-?: OptionSpec<TrainConfig[K]> & { parse: (flag: string, v: unknown) => TrainConfig[K] } } = {
  data: { flags: '--data <name|dir>', help: 'built-in data set name or a folder of IDX/CSV files', default: 'fashion-mnist', parse: text },
  // How the data is read, not what is trained (the same numbers either way), so a resumed run may change it.
  stream: {
    flags: '--stream',
    help: 'read the training images from disk batch by batch instead of loading them (IDX folders with uncompressed files; under mpirun each rank reads only its own batches)',
    negate: "load the training images into memory (the default; turns off a resumed run's --stream)",
    parse: bool,
    resume: true,
  },
  model: { flags: '--model <spec>', help: 'model: linear, mlp:H1,H2,..., cnn, or a layer spec (below)', default: 'mlp:256,128', parse: text },
  activation: {
    flags: '--activation <name>',
    help: 'hidden activation',
    default: 'relu',
    choices: () => ACTIVATION_CHOICES,
    parse: choice(() => ACTIVATION_CHOICES),
  },
  dropout: { flags: '--dropout <p>', help: 'dropout probability after each hidden layer', default: 0, parse: below(1) },
  syncBn: {
    flags: '--sync-bn',
    help: "under mpirun: batch normalisation takes its statistics over every rank's batch (SyncBatchNorm) instead of each rank's own; the epoch's batches must divide evenly over the ranks",
    parse: bool,
  },
  optimizer: { flags: '--optimizer <name>', help: 'optimizer', default: 'sgd', choices: () => OPTIMIZER_NAMES, parse: choice(() => OPTIMIZER_NAMES) },
  lr: { flags: '--lr <rate>', help: 'learning rate', default: 0.05, parse: positiveNumber },
  momentum: { flags: '--momentum <m>', help: 'momentum (sgd, rmsprop)', default: 0.9, parse: nonNegativeNumber },
  nesterov: { flags: '--nesterov', help: 'Nesterov momentum (sgd)', parse: bool },
  weightDecay: {
    flags: '--weight-decay <wd>',
    help: 'weight decay (L2 for sgd/adam/rmsprop/adagrad, decoupled for adamw)',
    default: 0,
    parse: nonNegativeNumber,
  },
  batchSize: { flags: '--batch-size <n>', help: 'examples per mini-batch', default: 64, parse: positiveInt },
  epochs: { flags: '--epochs <n>', help: 'passes over the training data', default: 10, parse: positiveInt, resume: true },
  // Absent: the presets' recipes, cosine annealing for MLPs and one-cycle for convolutional networks (resolveConfig).
  schedule: {
    flags: '--schedule <name>',
    help: 'learning-rate schedule (default: cosine for mlp/linear, onecycle for convolutional models)',
    choices: () => SCHEDULE_NAMES,
    parse: optional(choice(() => SCHEDULE_NAMES)) as (flag: string, v: unknown) => TrainConfig['schedule'],
  },
  warmupEpochs: { flags: '--warmup-epochs <n>', help: 'linear warm-up length for warmup-cosine', default: 1, parse: nonNegativeInt },
  accumulate: { flags: '--accumulate <n>', help: 'micro-batches per update (gradient accumulation)', default: 1, parse: positiveInt },
  clipGradNorm: { flags: '--clip-grad-norm <max>', help: 'clip the global gradient norm to this value', parse: optional(positiveNumber) },
  labelSmoothing: { flags: '--label-smoothing <eps>', help: 'cross-entropy label smoothing', default: 0, parse: below(1, true) },
  valSplit: {
    flags: '--val-split <fraction>',
    help: 'hold out this fraction of the training data for validation (0: validate on the test split)',
    default: 0,
    parse: below(1),
  },
  earlyStopping: {
    flags: '--early-stopping <patience>',
    help: 'stop after this many epochs without improvement of the validation loss',
    parse: optional(positiveInt),
  },
  labelColumn: { flags: '--label-column <name>', help: 'label column for CSV data', default: 'label', parse: text },
  header: CSV_OPTIONS.header,
  allowNan: CSV_OPTIONS.allowNan,
  maxMemory: {
    flags: '--max-memory <size>',
    help: 'fail before building the model if training would need more memory than this (e.g. 512M, 2G, or bytes)',
    parse: optional(parseByteSize),
    resume: true,
  },
  gradStats: {
    flags: '--grad-stats <every>',
    help: 'log gradient statistics (noise scale, per-example gradient norms) every n updates',
    parse: optional(positiveInt),
  },
  dpClip: { flags: '--dp-clip <C>', help: 'DP-SGD: clip each per-example gradient to this L2 norm', parse: optional(positiveNumber) },
  dpNoise: {
    flags: '--dp-noise <sigma>',
    help: 'DP-SGD: Gaussian noise multiplier (noise std = sigma * C on the clipped sum)',
    parse: optional(nonNegativeNumber),
  },
  seed: { flags: '--seed <n>', help: 'seed for initialisation, shuffling and dropout', default: 0, parse: nonNegativeInt },
  // Absent: runs/<date-time> (resolveConfig).
  out: { flags: '--out <dir>', help: 'run folder (default runs/<date-time>)', parse: optional(text) as (flag: string, v: unknown) => string, resume: true },
  logEvery: { flags: '--log-every <n>', help: 'write a step line to metrics.jsonl every n updates', default: 10, parse: positiveInt },
  backend: BACKEND_OPTION,
};

/** Options of `descent train` that steer the run but are not part of its configuration. */
export const RUN_OPTIONS = {
  config: { flags: '--config <file>', help: 'JSON file of options (same names in camelCase); flags given on the command line win' },
  resume: { flags: '--resume <checkpoint-dir>', help: "continue a run from its checkpoint folder (in that run's folder unless --out is given)", resume: true },
  overwrite: { flags: '--overwrite', help: 'replace the run already in the --out folder (without it such a folder is refused)', resume: true },
  json: { flags: '--json', help: 'print the final metrics as one JSON object on the last line of stdout', resume: true },
  progress: { flags: '--no-progress', help: 'no progress bar (a line per epoch is still printed)', resume: true },
  dashboard: { flags: '--dashboard [port]', help: 'serve a live dashboard on 127.0.0.1 while training (port 0 or none: any free port)', resume: true },
} satisfies OptionTable;

/** Help text of an option: its help and its allowed values (the default is added by commander). */
function describe(spec: OptionSpec): string {
  return spec.choices ? `${spec.help} (${spec.choices().join(', ')})` : spec.help;
}

/** Add a table's options to a command, in order. */
export function addOptions(cmd: Command, table: OptionTable): Command {
  for (const [key, spec] of Object.entries(table)) {
    const o = new Option(spec.flags, describe(spec));
    if (o.attributeName() !== key) throw new Error(`option table: ${spec.flags} is keyed '${key}', expected '${o.attributeName()}'`);
    if (spec.default !== undefined) o.default(spec.default);
    if (spec.env) o.env(spec.env);
    cmd.addOption(o);
    if (spec.negate) cmd.addOption(new Option(`--no-${o.long!.slice(2)}`, spec.negate));
  }
  return cmd;
}

/**
 * The value of each option of `table`: from the command line if given there, else from `file`
 * (a --config object), else from the environment or the default; each checked by its parser.
 * Options whose value is undefined are left out.
 */
export function resolveOptions(table: OptionTable, opts: Record<string, unknown>, cmd?: Command, file: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const src = cmd?.getOptionValueSource(key);
    const raw = src === 'cli' || !Object.hasOwn(file, key) ? opts[key] : file[key];
    const v = spec.parse ? spec.parse(flagOf(spec), raw) : raw;
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Options a resumed run may set, as flags ('--epochs, --out, ...'). */
export function resumeFlags(): string[] {
  const all: OptionTable = { ...TRAIN_OPTIONS, ...RUN_OPTIONS };
  return Object.values(all)
    .filter((s) => s.resume)
    .map(flagOf);
}

/** Throws when an option that a resumed run takes from its checkpoint is given on the command line. */
export function checkResumeFlags(cmd: Command): void {
  const all: OptionTable = { ...TRAIN_OPTIONS, ...RUN_OPTIONS };
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (!all[key]?.resume && cmd.getOptionValueSource(key) === 'cli') {
      throw new UsageError(
        `${opt.long ?? key} cannot be combined with --resume: a resumed run continues with the configuration saved in its checkpoint (only ${resumeFlags().join(', ')} may be given)`,
      );
    }
  }
}
