/**
 * Built-in datasets shipped in the package's data/ folder (found relative to this module, which
 * works from both src/ and dist/), or loaded from a directory you give.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TensorDataset } from './dataset.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, imageDatasetFromIdx } from './fashion-mnist.js';
import type { ImageClassification } from './fashion-mnist.js';
import { irisFromCsv } from './iris.js';
import type { TabularClassification } from './iris.js';
import { readIdx } from './readers/idx.js';

/** The package's data/ folder. */
export function dataDir(): string {
  return fileURLToPath(new URL('../../data/', import.meta.url));
}

export { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES } from './fashion-mnist.js';
export type { ImageClassification } from './fashion-mnist.js';
export { IRIS_CLASSES, IRIS_COLUMNS } from './iris.js';
export type { TabularClassification } from './iris.js';

/** `name` or `name.gz` inside dir, whichever exists (the raw file first). */
export function findFile(dir: string, name: string): string | null {
  for (const f of [name, `${name}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
  return null;
}

function loadIdxPair(imagesPath: string, labelsPath: string): TensorDataset {
  return imageDatasetFromIdx(readIdx(imagesPath), readIdx(labelsPath), { images: imagesPath, labels: labelsPath });
}

/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT license): 28x28 grey images of 10 kinds of
 * clothing. Without `dir`: the shipped class-balanced subset (6,000 train, 1,000 test). With
 * `dir`: a directory holding the four IDX files (raw or .gz), e.g. the full 60,000 + 10,000 set.
 */
export function loadFashionMnist(options: { dir?: string } = {}): ImageClassification {
  const dir = options.dir ?? join(dataDir(), 'fashion-mnist-subset');
  const paths = FASHION_MNIST_FILES.map((f) => findFile(dir, f));
  if (paths.some((p) => p === null)) {
    const missing = FASHION_MNIST_FILES.filter((_, i) => paths[i] === null);
    throw new Error(`loadFashionMnist: ${dir}: missing ${missing.join(', ')}; expected the files ${FASHION_MNIST_FILES.join(', ')} (each raw or with .gz)`);
  }
  const [trX, trY, teX, teY] = paths as string[];
  return { train: loadIdxPair(trX!, trY!), test: loadIdxPair(teX!, teY!), classes: [...FASHION_MNIST_CLASSES], imageShape: [1, 28, 28] };
}

/**
 * Fisher's Iris data (1936; public domain): 150 flowers, 4 measurements in cm (sepal length and
 * width, petal length and width), 3 species, 50 each. No train/test split is made: use randomSplit.
 * Parsed by irisFromCsv, which a browser uses too (fetchIris), so both give the same tensors.
 */
export function loadIris(): TabularClassification {
  const path = join(dataDir(), 'iris.csv');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`loadIris: cannot read ${path}: ${(e as Error).message}`);
  }
  return irisFromCsv(bytes, path);
}

export const BUILTIN_DATASETS = ['fashion-mnist', 'iris'] as const;
export type BuiltinName = (typeof BUILTIN_DATASETS)[number];

/** Load a built-in dataset by name. */
export function loadBuiltin(name: 'fashion-mnist'): ImageClassification;
export function loadBuiltin(name: 'iris'): TabularClassification;
export function loadBuiltin(name: string): ImageClassification | TabularClassification;
export function loadBuiltin(name: string): ImageClassification | TabularClassification {
  switch (name) {
    case 'fashion-mnist': return loadFashionMnist();
    case 'iris': return loadIris();
    default: throw new RangeError(`loadBuiltin: unknown dataset ${JSON.stringify(name)}; the built-in datasets are ${BUILTIN_DATASETS.join(', ')}`);
  }
}
