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

function numClassesOf(...sets: TensorDataset[]): number {
  return Math.max(...sets.map((s) => max(labelsOf(s)).item())) + 1;
}

function hasIdx(dir: string): boolean {
  return ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'].some((f) => existsSync(join(dir, f)));
}

export function loadData(spec: string, o: { labelColumn: string; valSplit: number; seed: number }): CliData {
  let d: CliData;
  if (spec === 'fashion-mnist') {
    const f = usage('--data fashion-mnist', () => loadFashionMnist());
    d = { name: 'Fashion-MNIST subset (built in)', train: f.train, test: f.test, inputSize: 784, numClasses: 10, classes: f.classes, imageShape: f.imageShape };
  } else if (spec === 'iris') {
    const iris = usage('--data iris', () => loadIris());
    // a fixed 80/20 split drawn from the seed
    const [train, test] = randomSplit(iris.dataset, [120, 30], { generator: new Generator(o.seed) });
    d = { name: 'Iris (built in)', train: train!, test: test!, inputSize: 4, numClasses: 3, classes: iris.classes };
  } else if (existsSync(spec) && statSync(spec).isDirectory()) {
    if (hasIdx(spec)) {
      const f = usage(`--data ${spec}`, () => loadFashionMnist({ dir: spec }));
      const k = numClassesOf(f.train, f.test);
      d = { name: spec, train: f.train, test: f.test, inputSize: 784, numClasses: k, classes: /fashion/i.test(spec) ? [...FASHION_MNIST_CLASSES] : undefined, imageShape: f.imageShape };
    } else if (existsSync(join(spec, 'train.csv'))) {
      const read = (file: string) => usage(`--data ${spec}`, () => readCsv(file, { labelColumn: o.labelColumn }));
      const tr = read(join(spec, 'train.csv'));
      if (!tr.labels) throw new UsageError(`--data ${spec}: train.csv has no label column '${o.labelColumn}' (set --label-column)`);
      const train = new TensorDataset(tr.features, tr.labels);
      let test: Dataset;
      if (existsSync(join(spec, 'test.csv'))) {
        const te = read(join(spec, 'test.csv'));
        if (!te.labels) throw new UsageError(`--data ${spec}: test.csv has no label column '${o.labelColumn}'`);
        if (te.features.shape[1] !== tr.features.shape[1]) throw new UsageError(`--data ${spec}: test.csv has ${te.features.shape[1]} feature columns, train.csv ${tr.features.shape[1]}`);
        test = new TensorDataset(te.features, te.labels);
        d = { name: spec, train, test, inputSize: tr.features.shape[1]!, numClasses: Math.max(numClassesOf(train), numClassesOf(test as TensorDataset)), classes: tr.classes };
      } else {
        const n = train.length, nTest = Math.max(1, Math.round(n * 0.2));
        const [a, b] = randomSplit(train, [n - nTest, nTest], { generator: new Generator(o.seed) });
        d = { name: spec, train: a!, test: b!, inputSize: tr.features.shape[1]!, numClasses: numClassesOf(train), classes: tr.classes };
      }
    } else {
      throw new UsageError(`--data ${spec}: the folder holds neither IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) nor train.csv`);
    }
  } else {
    throw new UsageError(`--data: '${spec}' is neither a built-in data set (${BUILTIN_DATASETS.join(', ')}) nor an existing folder`);
  }
  if (o.valSplit > 0) {
    const n = d.train.length, nVal = Math.max(1, Math.round(n * o.valSplit));
    const [train, val] = randomSplit(d.train, [n - nVal, nVal], { generator: new Generator(o.seed + 1) });
    d = { ...d, train: train!, val: val! };
  }
  return d;
}

/** Inputs for `descent predict --input`: .npy, .csv (all columns are features) or IDX; [N, inputSize] float32. */
export function readInputs(file: string, inputSize: number): Tensor {
  if (!existsSync(file)) throw new UsageError(`--input: ${file} does not exist`);
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  let x: Tensor;
  if (ext === '.npy') x = usage('--input', () => readNpy(file));
  else if (ext === '.csv') x = usage('--input', () => readCsv(file).features);
  else {
    const a = usage('--input', () => readIdx(file));
    x = tensor(a.type === 'float64' ? new Float64Array(a.data) : new Float32Array(a.data), { shape: a.shape });
    if (a.type === 'uint8') x = div(x, 255);
  }
  x = cast(x, 'float32');
  if (x.size % inputSize !== 0 || x.size === 0) throw new UsageError(`--input: ${file} holds ${x.size} values of shape [${x.shape}], which is not a whole number of examples of ${inputSize} features`);
  return reshape(x, [x.size / inputSize, inputSize]);
}
