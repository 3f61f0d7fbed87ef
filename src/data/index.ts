/**
 * The data layer that runs anywhere: datasets, the mini-batch loader, IDX, CSV and NPY from bytes
 * (or text), Fashion-MNIST and Iris from bytes or a URL. Reading files (IDX, CSV, NPY), the
 * streaming file datasets and the built-in datasets on disk live in the `descent/node` entry
 * (src/node/index.ts).
 */
export { TensorDataset, Subset, randomSplit, stackExamples } from './dataset.js';
export type { Dataset, SplitOptions } from './dataset.js';
export { DataLoader } from './loader.js';
export type { AsyncDataset, DataLoaderOptions, DataLoaderState } from './loader.js';
export { parseIdx, encodeIdx } from './readers/idx-parse.js';
export type { IdxArray, IdxData, IdxType } from './readers/idx-parse.js';
export { fashionMnistFromIdx, fetchFashionMnist, FASHION_MNIST_CLASSES } from './fashion-mnist.js';
export type { ImageClassification } from './fashion-mnist.js';
export { parseCsv } from './readers/csv-parse.js';
export type { CsvData, CsvInput, CsvOptions } from './readers/csv-parse.js';
export { parseNpy, encodeNpy } from './readers/npy-parse.js';
export { irisFromCsv, fetchIris, IRIS_CLASSES, IRIS_COLUMNS } from './iris.js';
export type { TabularClassification, FetchIrisOptions } from './iris.js';
