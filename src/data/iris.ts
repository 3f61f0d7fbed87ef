/**
 * Fisher's Iris data (1936; public domain) from the CSV text or bytes, with no file system:
 * browser-safe. `fetchIris(url)` loads the shipped data/iris.csv (or a gzipped copy) from a URL,
 * such as the package's data/ folder served as static assets; on Node, `loadIris()`
 * (descent/node) reads it from disk with `irisFromCsv`, so both give the same tensors.
 */
import { TensorDataset } from './dataset.js';
import { fetchBytes, resolveUrl } from './fetch-bytes.js';
import type { FetchBytesOptions } from './fetch-bytes.js';
import type { CsvInput } from './readers/csv-parse.js';
import { parseCsv } from './readers/csv-parse.js';

/** The species, in label order: label i means IRIS_CLASSES[i] (the names sorted, as the file's were). */
export const IRIS_CLASSES: readonly string[] = ['setosa', 'versicolor', 'virginica'];
/** The four measurements (cm), in feature order; the CSV's fifth column is `species`. */
export const IRIS_COLUMNS: readonly string[] = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

export interface TabularClassification {
  /** Examples [features float32 [F], label int32 []]. */
  dataset: TensorDataset;
  classes: string[];
  columns: string[];
}

/**
 * The Iris CSV (a header `sepal_length,sepal_width,petal_length,petal_width,species`, then one
 * flower a line) as a dataset of float32 [4] features and int32 labels indexing IRIS_CLASSES.
 * `source` names the data in errors. No train/test split is made: use randomSplit.
 */
export function irisFromCsv(input: CsvInput, source = 'iris.csv'): TabularClassification {
  const { features, labels, classes, columns } = parseCsv(input, { labelColumn: 'species', classes: IRIS_CLASSES }, source, 'loadIris');
  if (columns.length !== IRIS_COLUMNS.length || columns.some((c, i) => c !== IRIS_COLUMNS[i])) {
    throw new Error(`loadIris: ${source}: expected the feature columns ${IRIS_COLUMNS.join(', ')} (then species), got ${columns.join(', ')}`);
  }
  return { dataset: new TensorDataset(features, labels!), classes: classes!, columns };
}

export interface FetchIrisOptions extends FetchBytesOptions {
  /** Most bytes accepted, before and after gzip inflation (default 1 MiB; the shipped file is about 4 kB). */
  maxBytes?: number;
}

/**
 * Fetch the Iris CSV from `url` (relative URLs resolve against the page), raw or gzip (inflated in
 * a stream under maxBytes), and parse it with irisFromCsv.
 */
export async function fetchIris(url: string | URL, options: FetchIrisOptions = {}): Promise<TabularClassification> {
  const at = resolveUrl(url);
  const { bytes, gzipped } = await fetchBytes(at, 'loadIris', "the Iris CSV (the package's data/iris.csv)", { ...options, maxBytes: options.maxBytes ?? 2 ** 20 });
  return irisFromCsv(bytes, gzipped ? `${at.href} (gzip; lines and bytes in the decompressed text)` : at.href);
}
