/**
 * The data layer that runs anywhere: datasets, the mini-batch loader, IDX bytes and Fashion-MNIST
 * from bytes or a URL. Reading files (IDX, CSV, NPY), the streaming file datasets and the built-in
 * datasets on disk live in the `descent/node` entry (src/node/index.ts).
 */
export { TensorDataset, Subset, randomSplit, stackExamples } from './dataset.js';
export type { Dataset, SplitOptions } from './dataset.js';
export { DataLoader } from './loader.js';
export type { AsyncDataset, DataLoaderOptions, DataLoaderState } from './loader.js';
export { parseIdx, encodeIdx } from './readers/idx-parse.js';
export type { IdxArray, IdxData, IdxType } from './readers/idx-parse.js';
export { fashionMnistFromIdx, fetchFashionMnist, FASHION_MNIST_CLASSES } from './fashion-mnist.js';
export type { ImageClassification } from './fashion-mnist.js';
