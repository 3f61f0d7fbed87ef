/**
 * CSV files on Node: readCsv reads the file's bytes and parses them with parseCsv (csv-parse.ts,
 * browser-safe), which holds the format's rules: quoting, the header rule, labels and vocabularies,
 * strict UTF-8.
 */
import { readFileSync } from 'node:fs';
import type { CsvData, CsvOptions } from './csv-parse.js';
import { parseCsv } from './csv-parse.js';

export { parseCsv } from './csv-parse.js';
export type { CsvData, CsvInput, CsvOptions } from './csv-parse.js';

/** Read a CSV file (UTF-8): float32 features [N, F] and, with labelColumn, int32 labels [N]. */
export function readCsv(path: string, options: CsvOptions = {}): CsvData {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readCsv: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseCsv(bytes, options, path);
}
