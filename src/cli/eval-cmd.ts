/** `descent evaluate` and `descent predict`: rebuild the model a checkpoint describes and use it. */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { softmax, reshape, cast } from '../ops/index.js';
import type { CheckpointMeta } from '../train/checkpoint.js';
import { loadModelWeights, readCheckpointMeta } from '../train/checkpoint.js';
import { evaluate } from '../train/evaluate.js';
import type { ModelInfo, TrainConfig } from './types.js';
import { buildModel, lossFor, testLoader } from './build.js';
import { labelVocabulary, loadData, readInputs, type DataOptions } from './data.js';
import type { Command } from 'commander';
import { positiveInt, UsageError } from './errors.js';
import { defineCommand, type ExitCode } from './command.js';
import { BACKEND_OPTION, CSV_OPTIONS, useBackendAsync } from './options.js';
import { stdout } from './io.js';

export const CSV_HELP = `CSV files: the first line is a header if one of its cells is not a number (--header and
--no-header override). Labels that are all integers are class ids (the classes are 0 up to the
largest label in train.csv); other labels are class names, numbered in sorted order from train.csv,
and test.csv and the data given to evaluate and predict are mapped through the same names (a name
not among them is an error). Empty, NaN and infinite feature cells (and values beyond float32, like
1e39) are errors naming the line and column, unless --allow-nan.`;

export function openCheckpoint(dir: string): { meta: CheckpointMeta; cfg: TrainConfig; info: ModelInfo; classes?: string[] } {
  let meta: CheckpointMeta;
  try {
    meta = readCheckpointMeta(dir);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const cfg = meta.extra?.config as TrainConfig | undefined;
  const info = meta.extra?.model as ModelInfo | undefined;
  if (!cfg || !info) throw new UsageError(`checkpoint: ${dir} was not written by descent train (checkpoint.json has no model description)`);
  return { meta, cfg, info, classes: (meta.extra?.data as { classes?: string[] } | undefined)?.classes };
}

/**
 * How the data is read for a checkpoint's model: CSV labels through the model's vocabulary (names
 * of classes, from its training CSV; null: the model knows integer class ids only, so CSV labels
 * must be integers), below its class count; --header / --allow-nan as given, else as in training.
 */
function dataOptions(cfg: TrainConfig, info: ModelInfo, classes: string[] | undefined, opts: Record<string, unknown>): DataOptions {
  return {
    labelColumn: cfg.labelColumn,
    valSplit: 0,
    seed: cfg.seed,
    header: typeof opts.header === 'boolean' ? opts.header : cfg.header,
    allowNan: opts.allowNan === true || cfg.allowNan === true,
    classes: labelVocabulary(classes),
    numClasses: info.numClasses,
  };
}

/** The model a checkpoint describes, with its weights, in eval mode (a bad checkpoint is a UsageError). */
export function loadModel(dir: string, info: ModelInfo) {
  const model = buildModel(info.spec, info);
  try {
    model.loadStateDict(loadModelWeights(dir), true);
  } catch (e) {
    throw new UsageError(`checkpoint: ${dir}: ${(e as Error).message}`);
  }
  model.eval();
  return model;
}

export async function evaluateCommand(dir: string, opts: Record<string, unknown>): Promise<number> {
  await useBackendAsync(BACKEND_OPTION.parse('--backend', opts.backend));
  const { cfg, info, classes } = openCheckpoint(dir);
  const model = loadModel(dir, info);
  const dataSpec = typeof opts.data === 'string' ? opts.data : cfg.data;
  const data = loadData(dataSpec, dataOptions(cfg, info, classes, opts));
  if (data.inputSize !== info.inputSize)
    throw new UsageError(`evaluate: ${dataSpec} has ${data.inputSize} input features but the model expects ${info.inputSize}`);
  const r = await evaluate(model, testLoader(data, positiveInt('--batch-size', opts.batchSize)), lossFor(cfg));
  const res = { test_accuracy: r.accuracy ?? null, test_loss: r.loss, examples: r.examples };
  if (opts.json) stdout(JSON.stringify(res) + '\n');
  else
    stdout(
      `${data.name} test split: ${r.examples} examples, loss ${r.loss.toFixed(4)}, accuracy ${r.accuracy === undefined ? '-' : (r.accuracy * 100).toFixed(2) + '%'}\n`,
    );
  return 0;
}

function parseIndices(spec: string, n: number): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--indices: expected a range like 0:10 or a list like 3,7,9, got ${JSON.stringify(spec)}`);
    const a = Number(m[1]),
      b = m[2] === undefined ? a + 1 : Number(m[2]);
    if (b <= a)
      throw new UsageError(`--indices: the range ${part.trim()} is empty (a range START:END takes START, START+1, ..., END-1, so START must be below END)`);
    for (let i = a; i < b; i++) {
      if (i >= n) throw new UsageError(`--indices: ${i} is out of range (the test split has ${n} examples)`);
      out.push(i);
    }
  }
  return out;
}

export async function predictCommand(dir: string, opts: Record<string, unknown>): Promise<number> {
  await useBackendAsync(BACKEND_OPTION.parse('--backend', opts.backend));
  const { cfg, info, classes } = openCheckpoint(dir);
  const model = loadModel(dir, info);
  const top = positiveInt('--top', opts.top);
  let inputs: Tensor;
  let truth: number[] | undefined;
  let ids: number[];
  if (typeof opts.input === 'string') {
    inputs = readInputs(opts.input, info.inputSize, { header: typeof opts.header === 'boolean' ? opts.header : undefined, allowNan: opts.allowNan === true });
    ids = Array.from({ length: inputs.shape[0]! }, (_, i) => i);
  } else {
    const data = loadData(typeof opts.data === 'string' ? opts.data : cfg.data, dataOptions(cfg, info, classes, opts));
    if (data.inputSize !== info.inputSize)
      throw new UsageError(`predict: ${data.name} has ${data.inputSize} input features but the model expects ${info.inputSize}`);
    ids =
      opts.indices === undefined ? Array.from({ length: Math.min(10, data.test.length) }, (_, i) => i) : parseIndices(String(opts.indices), data.test.length);
    const batch = data.test.getBatch!(Int32Array.from(ids));
    inputs = batch[0]!;
    truth = Array.from(await batch[1]!.dataAsync());
  }
  // read asynchronously: on webgpu the outputs live in GPU memory
  const logits = scope(() => noGrad(() => model.forward(reshape(cast(inputs, 'float32'), [inputs.shape[0]!, -1]))));
  const probs = scope(() => softmax(logits, -1));
  const [p, z] = (await Promise.all([probs.toArrayAsync(), opts.logits ? logits.toArrayAsync() : undefined])) as [number[][], number[][] | undefined];
  const name = (k: number) => classes?.[k] ?? String(k);
  const rows = p.map((row, i) => {
    const order = row
      .map((v, k) => [v, k] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, top);
    return {
      index: ids[i]!,
      predictions: order.map(([v, k]) => ({ class: k, name: name(k), probability: Number(v.toFixed(6)) })),
      ...(truth ? { label: truth[i]!, label_name: name(truth[i]!) } : {}),
      ...(z ? { logits: z[i]! } : {}),
    };
  });
  if (opts.json) stdout(JSON.stringify(rows) + '\n');
  else
    for (const r of rows) {
      const preds = r.predictions.map((q) => `${q.name} (${(q.probability * 100).toFixed(1)}%)`).join(', ');
      stdout(`#${r.index}: ${preds}${'label' in r ? `  [true: ${r.label_name}]` : ''}${r.logits ? `  logits [${r.logits.join(', ')}]` : ''}\n`);
    }
  return 0;
}

export function registerEvaluate(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'evaluate',
      description: 'evaluate a checkpoint on the test split of its data (or of --data)',
      args: [['<checkpoint-dir>', 'a checkpoint folder written by descent train (e.g. runs/x/checkpoint)']],
      options: {
        data: { flags: '--data <name|dir>', help: 'data set to evaluate on (default: the one it was trained on)' },
        batchSize: { flags: '--batch-size <n>', help: 'examples per batch', default: 256 },
        json: { flags: '--json', help: 'print the metrics as one JSON object' },
        ...CSV_OPTIONS,
        backend: BACKEND_OPTION,
      },
      help: `\nExamples:\n  $ descent evaluate runs/exp1/checkpoint\n  $ descent evaluate runs/exp1/checkpoint --data /usr/share/datasets/fashion-mnist --json\n\n${CSV_HELP}\nLabels must be classes the model was trained on; --header and --allow-nan default to the training run's.`,
      run: ([dir], opts) => evaluateCommand(dir as string, opts),
    },
    exit,
  );
}

export function registerPredict(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'predict',
      description: 'predict classes with a checkpoint, for test examples or for a file of inputs',
      args: [['<checkpoint-dir>', 'a checkpoint folder written by descent train']],
      options: {
        input: { flags: '--input <file>', help: 'inputs to classify: .npy, .csv (features only) or IDX (raw or .gz)' },
        data: { flags: '--data <name|dir>', help: 'take inputs from the test split of this data set (default: the training data)' },
        indices: { flags: '--indices <range>', help: 'which test examples, e.g. 0:10 or 3,7,9 (default: the first 10)' },
        top: { flags: '--top <k>', help: 'show the k most likely classes', default: 1 },
        json: { flags: '--json', help: 'print the predictions as JSON' },
        logits: { flags: '--logits', help: "also print each example's logits (the model's raw outputs, before softmax), unrounded" },
        ...CSV_OPTIONS,
        backend: BACKEND_OPTION,
      },
      help: `\nExamples:\n  $ descent predict runs/exp1/checkpoint --indices 0:5\n  $ descent predict runs/exp1/checkpoint --input images.npy --top 3 --json\n  $ descent predict runs/exp1/checkpoint --indices 0:100 --json --logits\n  $ descent predict runs/exp1/checkpoint --input rows.csv --no-header\n\n--indices takes ranges START:END (END excluded, START < END) and single indices, comma-separated.\n${CSV_HELP}`,
      run: ([dir], opts) => predictCommand(dir as string, opts),
    },
    exit,
  );
}
