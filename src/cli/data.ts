/** Data for the CLI: a built-in name or a folder of IDX/CSV files, split into train/validation/test. */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { randomSplit, TensorDataset } from '../data/dataset.js';
import { BUILTIN_DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, findFile, loadFashionMnist, loadIris } from '../data/builtin.js';
import { isGzip } from '../data/readers/files.js';
import { imageDatasetFromIdx } from '../data/fashion-mnist.js';
import { IdxFileDataset } from '../data/streaming.js';
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
  /** --stream: the training split (and --val-split's validation split) is read from disk batch by batch, not held in memory. */
  streamed?: boolean;
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
  /** Read the training split of an IDX folder from disk batch by batch (--stream). */
  stream?: boolean;
}

/** Where the data came from, for messages: the files holding the training and test examples. */
interface Source {
  name: string;
  train: Dataset;
  /** Every training label, int32 [N] (for the checks; with --stream read from the label file alone). */
  trainLabels: Tensor;
  /** Numbers in one example's features. */
  inputSize: number;
  /** Absent: the test split is held out from train (CSV without test.csv). */
  test?: TensorDataset;
  trainFile: string;
  testFile: string;
  classes?: string[];
  imageShape?: number[];
  /** Whether labels were checked against numClasses while reading (CSV). */
  checked?: boolean;
  streamed?: boolean;
}

/** The parts of a Source that an in-memory training set gives. */
function loaded(train: TensorDataset): Pick<Source, 'train' | 'trainLabels' | 'inputSize'> {
  return { train, trainLabels: labelsOf(train), inputSize: train.tensors[0]!.shape.slice(1).reduce((a, b) => a * b, 1) };
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
    ...loaded(new TensorDataset(tr.features, tr.labels)),
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
function checkLabels(spec: string, file: string, labels: Tensor, numClasses: number, of: string): void {
  const y = labels.dataSync();
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (v < 0 || v >= numClasses)
      throw new UsageError(`--data ${spec}: ${file}: label ${v} of example ${i} is not a class of ${of} (expected 0..${numClasses - 1})`);
  }
}

function distinctLabels(labels: Tensor): number {
  return new Set(labels.dataSync()).size;
}

/** Where the examples come from: a built-in set, or a folder of IDX or CSV files. */
function sourceOf(spec: string, o: DataOptions): Source {
  const kind = kindOf(spec);
  if (o.stream && kind !== 'idx')
    throw new UsageError(
      `--stream reads IDX folders (uncompressed train-images-idx3-ubyte and train-labels-idx1-ubyte); --data ${spec} is ${kind === 'csv' ? 'a folder of CSV files' : 'a built-in data set'}: leave out --stream`,
    );
  if (kind === 'fashion-mnist') {
    const f = usage('--data fashion-mnist', () => loadFashionMnist());
    return {
      name: 'Fashion-MNIST subset (built in)',
      ...loaded(f.train),
      test: f.test,
      trainFile: 'train',
      testFile: 'test',
      classes: f.classes,
      imageShape: f.imageShape,
    };
  } else if (kind === 'iris') {
    const iris = usage('--data iris', () => loadIris());
    return { name: 'Iris (built in)', ...loaded(iris.dataset), trainFile: 'iris.csv', testFile: 'iris.csv', classes: iris.classes };
  } else if (kind === 'csv') {
    return readCsvSource(spec, o);
  } else if (o.stream) {
    return streamedIdxSource(spec);
  }
  const f = usage(`--data ${spec}`, () => loadFashionMnist({ dir: spec }));
  return {
    name: spec,
    ...loaded(f.train),
    test: f.test,
    trainFile: 'train-labels-idx1-ubyte',
    testFile: 't10k-labels-idx1-ubyte',
    classes: /fashion/i.test(spec) ? [...FASHION_MNIST_CLASSES] : undefined,
    imageShape: f.imageShape,
  };
}

/** What --data names: a built-in set, an IDX folder or a CSV folder; anything else is a UsageError. */
function kindOf(spec: string): 'fashion-mnist' | 'iris' | 'idx' | 'csv' {
  if (spec === 'fashion-mnist' || spec === 'iris') return spec;
  if (!existsSync(spec) || !statSync(spec).isDirectory())
    throw new UsageError(`--data: '${spec}' is neither a built-in data set (${BUILTIN_DATASETS.join(', ')}) nor an existing folder`);
  if (hasIdx(spec)) return 'idx';
  if (existsSync(join(spec, 'train.csv'))) return 'csv';
  throw new UsageError(
    `--data ${spec}: the folder holds neither IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) nor train.csv`,
  );
}

/** Whether a file starts with gzip's magic bytes (a compressed file without the .gz name). */
function gzipInside(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return isGzip(b.subarray(0, readSync(fd, b, 0, 2, 0)));
  } finally {
    closeSync(fd);
  }
}

/**
 * --stream on an IDX folder: the training split read from the raw files batch by batch (an
 * IdxFileDataset: pixels times 1/255 in float32, the same numbers loadFashionMnist's pixel / 255
 * gives for every byte 0..255), its labels read once for the checks; the test split (10,000 images
 * at most, raw or .gz) loaded as without --stream. The same files must be what the loaded path
 * accepts: uint8 images [N, 28, 28] and uint8 labels 0..9.
 */
function streamedIdxSource(spec: string): Source {
  const paths = FASHION_MNIST_FILES.map((f) => findFile(spec, f));
  const missing = FASHION_MNIST_FILES.filter((_, i) => !paths[i]);
  if (missing.length)
    throw new UsageError(`--data ${spec}: missing ${missing.join(', ')}; expected the files ${FASHION_MNIST_FILES.join(', ')} (each raw or with .gz)`);
  const [trX, trY, teX, teY] = paths as string[];
  for (const file of [trX!, trY!]) {
    if (file.endsWith('.gz'))
      throw new UsageError(
        `--stream: ${file} is gzip-compressed; reading batches at their positions in the file needs the uncompressed file: decompress it once with gunzip -k ${file}`,
      );
    if (usage(`--data ${spec}`, () => gzipInside(file)))
      throw new UsageError(
        `--stream: ${file} is gzip-compressed (without a .gz name); reading batches at their positions in the file needs the uncompressed file: decompress it once with mv ${file} ${file}.gz && gunzip -k ${file}.gz`,
      );
  }
  const train = usage(`--data ${spec}`, () => new IdxFileDataset(trX!, trY!));
  if (train.imageType !== 'uint8' || train.imageShape.length !== 2 || train.imageShape[0] !== 28 || train.imageShape[1] !== 28)
    throw new UsageError(
      `--data ${spec}: ${trX}: expected uint8 images of shape [N, 28, 28], got ${train.imageType} [${[train.length, ...train.imageShape].join(', ')}]`,
    );
  const trainLabels = streamedLabels(spec, trY!, train.length);
  const test = usage(`--data ${spec}`, () => imageDatasetFromIdx(readIdx(teX!), readIdx(teY!), { images: teX!, labels: teY! }));
  return {
    name: spec,
    train,
    trainLabels,
    inputSize: 784,
    test,
    trainFile: basename(trY!),
    testFile: basename(teY!),
    classes: /fashion/i.test(spec) ? [...FASHION_MNIST_CLASSES] : undefined,
    imageShape: [1, 28, 28],
    streamed: true,
  };
}

/** The training labels of --stream, read alone (one byte an example) and checked as loadFashionMnist checks them. */
function streamedLabels(spec: string, file: string, n: number): Tensor {
  const lb = usage(`--data ${spec}`, () => readIdx(file));
  if (lb.type !== 'uint8' || lb.shape.length !== 1 || lb.shape[0] !== n)
    throw new UsageError(`--data ${spec}: ${file}: expected uint8 labels of shape [${n}], got ${lb.type} [${lb.shape.join(', ')}]`);
  const y = Int32Array.from(lb.data as Uint8Array);
  const i = y.findIndex((v) => v > 9);
  if (i >= 0) throw new UsageError(`--data ${spec}: ${file}: label ${y[i]} at example ${i} (byte ${8 + i}); expected a class 0..9`);
  return tensor(y);
}

/**
 * The data of --data, split into train / validation / test. Degenerate data is a UsageError
 * before anything trains: no examples, fewer than 2 training examples left after the test and
 * validation splits, fewer than 2 classes among the training labels, an empty test split, a label
 * below 0 or (in the test split) one the training data does not have.
 */
export function loadData(spec: string, o: DataOptions): CliData {
  const src = sourceOf(spec, o);
  const training = o.numClasses === undefined;
  const n = src.train.length;
  if (n === 0 && (training || !src.test))
    throw new UsageError(`--data ${spec}: ${src.trainFile} has no examples${src.trainFile.endsWith('.csv') ? ' (only a header line)' : ''}`);
  // The class count comes from the training data: its class names, else its largest label + 1.
  const numClasses = o.numClasses ?? src.classes?.length ?? max(src.trainLabels).item() + 1;
  // Test labels (from the test file, or from the training file the test split is drawn from) must be classes the model has.
  if (!src.checked)
    checkLabels(
      spec,
      src.test ? src.testFile : src.trainFile,
      src.test ? labelsOf(src.test) : src.trainLabels,
      numClasses,
      training ? 'the training data' : 'the model',
    );
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
  if (training && distinctLabels(src.trainLabels) < 2) {
    const y = src.trainLabels.dataSync()[0]!;
    throw new UsageError(
      `--data ${spec}: ${src.trainFile} has a single class (${src.classes ? JSON.stringify(src.classes[y]) : `label ${y}`}); a classifier needs examples of at least 2`,
    );
  }
  return { name: src.name, train, val, test, inputSize: src.inputSize, numClasses, classes: src.classes, imageShape: src.imageShape, streamed: src.streamed };
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
