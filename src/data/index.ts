/** The data layer: datasets, the mini-batch loader, file readers and built-in datasets. */
export { TensorDataset, Subset, randomSplit, stackExamples } from './dataset.js';
export type { Dataset, SplitOptions } from './dataset.js';
export { DataLoader } from './loader.js';
export type { AsyncDataset, DataLoaderOptions, DataLoaderState } from './loader.js';
export { readIdx, writeIdx, parseIdxHeader } from './readers/idx.js';
export type { IdxArray, IdxData, IdxType } from './readers/idx.js';
export { readCsv, parseCsv } from './readers/csv.js';
export type { CsvData, CsvOptions } from './readers/csv.js';
export { readNpy, writeNpy, encodeNpy } from './readers/npy.js';
export { IdxFileDataset, NpyFileDataset } from './streaming.js';
export type { IdxFileOptions } from './streaming.js';
export { loadFashionMnist, loadIris, loadBuiltin, dataDir, FASHION_MNIST_CLASSES, BUILTIN_DATASETS } from './builtin.js';
export type { ImageClassification, TabularClassification, BuiltinName } from './builtin.js';
