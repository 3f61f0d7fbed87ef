/**
 * The data layer that runs anywhere: datasets and the mini-batch loader. The file readers (IDX,
 * CSV, NPY), the streaming file datasets and the built-in datasets read files, so they live in the
 * `descent/node` entry (src/node/index.ts).
 */
export { TensorDataset, Subset, randomSplit, stackExamples } from './dataset.js';
export type { Dataset, SplitOptions } from './dataset.js';
export { DataLoader } from './loader.js';
export type { AsyncDataset, DataLoaderOptions, DataLoaderState } from './loader.js';
