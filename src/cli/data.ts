/** Data for the CLI: a built-in name or a folder of IDX/CSV files, split into train/validation/test. */
import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { randomSplit, TensorDataset } from '../data/dataset.js';
import { BUILTIN_DATASETS, FASHION_MNIST_CLASSES, loadFashionMnist, loadIris } from '../data/builtin.js';
import { readCsv } from '../data/readers/csv.js';
import { readIdx } from '../data/readers/idx.js';
import { readNpy } from '../data/readers/npy.js';
import { cast, div, max, reshape, tensor } from '../ops/index.js';
import { UsageError } from './errors.js';

export interface CliData {
  name: string;
  train: Dataset;
  /** Held out from the training data by --val-split. */
  val?: Dataset;
  test: Dataset;
  inputSize: number;
  numClasses: number;
  classes?: string[];
  /** [channels, height, width] for image data. */
  imageShape?: number[];
}

function usage<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

function labelsOf(ds: TensorDataset): Tensor {
  return ds.tensors[ds.tensors.length - 1]!;
}

function hasIdx(dir: string): boolean {
  return ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'].some((f) => existsSync(join(dir, f)));
}

export interface DataOptions {
  /** The label column of CSV files. */
  labelColumn: string;
  /** The fraction of the training data held out for validation (0: none). */
  valSplit: number;
  seed: number;
  /** CSV: whether the first line is a header; undefined: it is if one of its cells is not a number. */
  header?: boolean;
  /** CSV: read empty, NaN and infinite feature cells instead of failing. */
  allowNan?: boolean;
  /**
   * The model's label vocabulary (from its checkpoint): CSV labels are mapped through it; null: the
   * model was trained on integer class ids, so CSV labels must be integers. Omitted: from train.csv.
   */
  classes?: string[] | null;
  /**
   * The model's class count (from its checkpoint): labels must be below it. Given, the data is only
   * evaluated, so the rules for training data (enough examples, two classes) are not applied.
   */
  numClasses?: number;
}

/** Where the data came from, for messages: the files holding the training and test examples. */
interface Source {
  name: string;
  train: TensorDataset;
  /** Absent: the test split is held out from train (CSV without test.csv). */
  test?: TensorDataset;
  trainFile: string;
  testFile: string;
  classes?: string[];
  imageShape?: number[];
  /** Whether labels were checked against numClasses while reading (CSV). */
  checked?: boolean;
}

function plural(n: number, what: string): string {
  return `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
}

function readCsvSource(spec: string, o: DataOptions): Source {
  const csv = (file: string, numClasses?: number) =>
    usage(`--data ${spec}`, () =>
      readCsv(join(spec, file), {
        labelColumn: o.labelColumn,
        header: o.header ?? 'auto',
        allowNan: o.allowNan,
        classes: o.classes ?? undefined,
        numClasses,
      }),
    );
  const tr = csv('train.csv', o.numClasses);
  if (!tr.labels) throw new UsageError(`--data ${spec}: train.csv has no label column '${o.labelColumn}' (set --label-column)`);
  if (tr.labels.size === 0 && o.numClasses === undefined) throw new UsageError(`--data ${spec}: train.csv has no examples (only a header line)`);
  if (o.classes === null && tr.classes)
    throw new UsageError(
      `--data ${spec}: train.csv has class names as labels (${JSON.stringify(tr.classes[0])}, ...) but the model was trained on integer class ids`,
    );
  // The class count comes from the training labels: a vocabulary's size, else the largest id + 1.
  const numClasses = o.numClasses ?? tr.classes?.length ?? max(tr.labels).item() + 1;
  const src: Source = {
    name: spec,
    train: new TensorDataset(tr.features, tr.labels),
    trainFile: 'train.csv',
    testFile: 'train.csv',
    classes: tr.classes,
    checked: true,
  };
  if (existsSync(join(spec, 'test.csv'))) {
    // Test labels go through the training vocabulary, so a class missing from test.csv shifts nothing.
    const te = usage(`--data ${spec}`, () =>
      readCsv(join(spec, 'test.csv'), {
        labelColumn: o.labelColumn,
        header: o.header ?? 'auto',
        allowNan: o.allowNan,
        classes: tr.classes,
        numClasses: tr.classes ? undefined : numClasses,
      }),
    );
    if (!te.labels) throw new UsageError(`--data ${spec}: test.csv has no label column '${o.labelColumn}'`);
    if (te.features.shape[1] !== tr.features.shape[1])
      throw new UsageError(`--data ${spec}: test.csv has ${te.features.shape[1]} feature columns, train.csv ${tr.features.shape[1]}`);
    if (!tr.classes && te.classes)
      throw new UsageError(`--data ${spec}: test.csv has class names as labels (${JSON.stringify(te.classes[0])}, ...) but train.csv has integer class ids`);
    src.test = new TensorDataset(te.features, te.labels);
    src.testFile = 'test.csv';
  }
  return src;
}

/** Every label in [0, numClasses), or a UsageError naming the file and the first one outside. */
function checkLabels(spec: string, file: string, ds: TensorDataset, numClasses: number, of: string): void {
  const y = labelsOf(ds).dataSync();
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (v < 0 || v >= numClasses)
      throw new UsageError(`--data ${spec}: ${file}: label ${v} of example ${i} is not a class of ${of} (expected 0..${numClasses - 1})`);
  }
}

function distinctLabels(ds: TensorDataset): number {
  return new Set(labelsOf(ds).dataSync()).size;
}

/**
 * The data of --data, split into train / validation / test. Degenerate data is a UsageError
 * before anything trains: no examples, fewer than 2 training examples left after the test and
 * validation splits, fewer than 2 classes among the training labels, an empty test split, a label
 * below 0 or (in the test split) one the training data does not have.
 */
/** Where the examples come from: a built-in set, or a folder of IDX or CSV files. */
function sourceOf(spec: string, o: DataOptions): Source {
  if (spec === 'fashion-mnist') {
    const f = usage('--data fashion-mnist', () => loadFashionMnist());
    return {
      name: 'Fashion-MNIST subset (built in)',
      train: f.train,
      test: f.test,
      trainFile: 'train',
      testFile: 'test',
      classes: f.classes,
      imageShape: f.imageShape,
    };
  } else if (spec === 'iris') {
    const iris = usage('--data iris', () => loadIris());
    return { name: 'Iris (built in)', train: iris.dataset, trainFile: 'iris.csv', testFile: 'iris.csv', classes: iris.classes };
  } else if (existsSync(spec) && statSync(spec).isDirectory()) {
    if (hasIdx(spec)) {
      const f = usage(`--data ${spec}`, () => loadFashionMnist({ dir: spec }));
      return {
        name: spec,
        train: f.train,
        test: f.test,
        trainFile: 'train-labels-idx1-ubyte',
        testFile: 't10k-labels-idx1-ubyte',
        classes: /fashion/i.test(spec) ? [...FASHION_MNIST_CLASSES] : undefined,
        imageShape: f.imageShape,
      };
    } else if (existsSync(join(spec, 'train.csv'))) {
      return readCsvSource(spec, o);
    } else {
      throw new UsageError(
        `--data ${spec}: the folder holds neither IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) nor train.csv`,
      );
    }
  } else {
    throw new UsageError(`--data: '${spec}' is neither a built-in data set (${BUILTIN_DATASETS.join(', ')}) nor an existing folder`);
  }
}

export function loadData(spec: string, o: DataOptions): CliData {
  const src = sourceOf(spec, o);
  const training = o.numClasses === undefined;
  const n = src.train.length;
  if (n === 0 && (training || !src.test))
    throw new UsageError(`--data ${spec}: ${src.trainFile} has no examples${src.trainFile.endsWith('.csv') ? ' (only a header line)' : ''}`);
  // The class count comes from the training data: its class names, else its largest label + 1.
  const numClasses = o.numClasses ?? src.classes?.length ?? max(labelsOf(src.train)).item() + 1;
  // Test labels (from the test file, or from the training file the test split is drawn from) must be classes the model has.
  if (!src.checked) checkLabels(spec, src.test ? src.testFile : src.trainFile, src.test ?? src.train, numClasses, training ? 'the training data' : 'the model');
  let train: Dataset = src.train,
    test: Dataset;
  if (src.test) {
    test = src.test;
    if (test.length === 0)
      throw new UsageError(`--data ${spec}: ${src.testFile} has no examples${src.testFile.endsWith('.csv') ? ' (only a header line)' : ''}`);
  } else {
    // No test file: a fixed 20% (at least 1) of the training examples, drawn from the seed.
    const nTest = Math.max(1, Math.round(n * 0.2));
    if (training && n - nTest < 2)
      throw new UsageError(
        `--data ${spec}: ${src.trainFile} has ${plural(n, 'example')}: holding out ${nTest} for the test split (there is no test file) leaves ${n - nTest} to train on; training needs at least 2`,
      );
    const [a, b] = randomSplit(src.train, [n - nTest, nTest], { generator: new Generator(o.seed) });
    train = a!;
    test = b!;
  }
  let val: Dataset | undefined;
  if (o.valSplit > 0) {
    const m = train.length,
      nVal = Math.max(1, Math.round(m * o.valSplit));
    if (training && m - nVal < 2)
      throw new UsageError(
        `--val-split ${o.valSplit}: holding out ${nVal} of the ${plural(m, 'training example')} for validation leaves ${m - nVal} to train on; training needs at least 2`,
      );
    const [a, b] = randomSplit(train, [m - nVal, nVal], { generator: new Generator(o.seed + 1) });
    train = a!;
    val = b!;
  }
  if (training && distinctLabels(src.train) < 2) {
    const y = labelsOf(src.train).dataSync()[0]!;
    throw new UsageError(
      `--data ${spec}: ${src.trainFile} has a single class (${src.classes ? JSON.stringify(src.classes[y]) : `label ${y}`}); a classifier needs examples of at least 2`,
    );
  }
  const inputSize = src.train.tensors[0]!.shape.slice(1).reduce((a, b) => a * b, 1);
  return { name: src.name, train, val, test, inputSize, numClasses, classes: src.classes, imageShape: src.imageShape };
}

/**
 * A checkpoint's class names as a CSV label vocabulary: names a model was trained on (from a CSV
 * file, the built-in Iris) map CSV labels; the Fashion-MNIST names only name integer ids (IDX
 * labels), and a model without names knows integer ids only: both give null (labels must be ids).
 */
export function labelVocabulary(classes: readonly string[] | undefined): string[] | null {
  if (!classes) return null;
  if (classes.length === FASHION_MNIST_CLASSES.length && classes.every((c, i) => c === FASHION_MNIST_CLASSES[i])) return null;
  return [...classes];
}

/**
 * Inputs for `descent predict --input`: .npy, .csv (all columns are features; the same header
 * rule as for training) or IDX; [N, inputSize] float32. No examples, or a value that is not finite
 * (unless allowNan), is a UsageError.
 */
export function readInputs(file: string, inputSize: number, o: { header?: boolean; allowNan?: boolean } = {}): Tensor {
  if (!existsSync(file)) throw new UsageError(`--input: ${file} does not exist`);
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  let x: Tensor;
  if (ext === '.npy') x = usage('--input', () => readNpy(file));
  else if (ext === '.csv') x = usage('--input', () => readCsv(file, { header: o.header ?? 'auto', allowNan: o.allowNan }).features);
  else {
    const a = usage('--input', () => readIdx(file));
    x = tensor(a.type === 'float64' ? new Float64Array(a.data) : new Float32Array(a.data), { shape: a.shape });
    if (a.type === 'uint8') x = div(x, 255);
  }
  x = cast(x, 'float32');
  if (x.size === 0) throw new UsageError(`--input: ${file} holds no examples (shape [${x.shape}])`);
  if (x.size % inputSize !== 0)
    throw new UsageError(`--input: ${file} holds ${x.size} values of shape [${x.shape}], which is not a whole number of examples of ${inputSize} features`);
  if (!o.allowNan && ext !== '.csv') {
    const v = x.dataSync(),
      i = v.findIndex((e) => !Number.isFinite(e));
    if (i >= 0)
      throw new UsageError(
        `--input: ${file}: value ${v[i]} at flat index ${i} (example ${Math.floor(i / inputSize)}) is not a finite float32 (--allow-nan accepts it)`,
      );
  }
  return reshape(x, [x.size / inputSize, inputSize]);
}
