/** `descent evaluate` and `descent predict`: rebuild the model a checkpoint describes and use it. */
import { noGrad } from '../core/grad-mode.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { softmax, reshape, cast } from '../ops/index.js';
import type { CheckpointMeta } from '../train/checkpoint.js';
import { loadModelWeights, readCheckpointMeta } from '../train/checkpoint.js';
import { evaluate } from '../train/evaluate.js';
import type { TrainConfig } from './train-cmd.js';
import { buildModel, lossFor, testLoader, type ModelInfo } from './build.js';
import { labelVocabulary, loadData, readInputs, type DataOptions } from './data.js';
import { positiveInt, UsageError } from './errors.js';

function openCheckpoint(dir: string): { meta: CheckpointMeta; cfg: TrainConfig; info: ModelInfo; classes?: string[] } {
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
    labelColumn: cfg.labelColumn, valSplit: 0, seed: cfg.seed,
    header: typeof opts.header === 'boolean' ? opts.header : cfg.header,
    allowNan: opts.allowNan === true || cfg.allowNan === true,
    classes: labelVocabulary(classes), numClasses: info.numClasses,
  };
}

function loadModel(dir: string, info: ModelInfo) {
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
  const { cfg, info, classes } = openCheckpoint(dir);
  const model = loadModel(dir, info);
  const dataSpec = typeof opts.data === 'string' ? opts.data : cfg.data;
  const data = loadData(dataSpec, dataOptions(cfg, info, classes, opts));
  if (data.inputSize !== info.inputSize) throw new UsageError(`evaluate: ${dataSpec} has ${data.inputSize} input features but the model expects ${info.inputSize}`);
  const r = await evaluate(model, testLoader(data, positiveInt('--batch-size', opts.batchSize)), lossFor(cfg));
  const res = { test_accuracy: r.accuracy ?? null, test_loss: r.loss, examples: r.examples };
  if (opts.json) process.stdout.write(JSON.stringify(res) + '\n');
  else process.stdout.write(`${data.name} test split: ${r.examples} examples, loss ${r.loss.toFixed(4)}, accuracy ${r.accuracy === undefined ? '-' : (r.accuracy * 100).toFixed(2) + '%'}\n`);
  return 0;
}

function parseIndices(spec: string, n: number): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--indices: expected a range like 0:10 or a list like 3,7,9, got ${JSON.stringify(spec)}`);
    const a = Number(m[1]), b = m[2] === undefined ? a + 1 : Number(m[2]);
    if (b <= a) throw new UsageError(`--indices: the range ${part.trim()} is empty (a range START:END takes START, START+1, ..., END-1, so START must be below END)`);
    for (let i = a; i < b; i++) {
      if (i >= n) throw new UsageError(`--indices: ${i} is out of range (the test split has ${n} examples)`);
      out.push(i);
    }
  }
  return out;
}

export async function predictCommand(dir: string, opts: Record<string, unknown>): Promise<number> {
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
    if (data.inputSize !== info.inputSize) throw new UsageError(`predict: ${data.name} has ${data.inputSize} input features but the model expects ${info.inputSize}`);
    ids = opts.indices === undefined ? Array.from({ length: Math.min(10, data.test.length) }, (_, i) => i) : parseIndices(String(opts.indices), data.test.length);
    const batch = data.test.getBatch!(Int32Array.from(ids));
    inputs = batch[0]!;
    truth = Array.from(batch[1]!.data);
  }
  const probs = scope(() => noGrad(() => softmax(model.forward(reshape(cast(inputs, 'float32'), [inputs.shape[0]!, -1])), -1)));
  const p = probs.toArray() as number[][];
  const name = (k: number) => classes?.[k] ?? String(k);
  const rows = p.map((row, i) => {
    const order = row.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]).slice(0, top);
    return { index: ids[i]!, predictions: order.map(([v, k]) => ({ class: k, name: name(k), probability: Number(v.toFixed(6)) })), ...(truth ? { label: truth[i]!, label_name: name(truth[i]!) } : {}) };
  });
  if (opts.json) process.stdout.write(JSON.stringify(rows) + '\n');
  else for (const r of rows) {
    const preds = r.predictions.map((q) => `${q.name} (${(q.probability * 100).toFixed(1)}%)`).join(', ');
    process.stdout.write(`#${r.index}: ${preds}${'label' in r ? `  [true: ${r.label_name}]` : ''}\n`);
  }
  return 0;
}
