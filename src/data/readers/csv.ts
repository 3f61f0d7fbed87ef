/**
 * CSV files of numeric features with an optional label column. Fields may be quoted ("a,b",
 * with "" for a quote inside); blank lines are skipped; \n and \r\n line ends are accepted.
 */
import { readFileSync } from 'node:fs';
import type { Tensor } from '../../core/tensor.js';
import { tensor } from '../../ops/index.js';

export interface CsvOptions {
  /** The first line names the columns (default true). */
  header?: boolean;
  /** The label column, by header name or 0-based index; omitted: every column is a feature. */
  labelColumn?: string | number;
  /** Field separator (default ','). */
  delimiter?: string;
}

export interface CsvData {
  /** float32 [N, F]: every column but the label column, in file order. */
  features: Tensor;
  /** int32 [N]: the labels, when labelColumn is given. */
  labels?: Tensor;
  /**
   * The class names when the labels are not all integers: label i means classes[i], the names
   * sorted (like scikit-learn's LabelEncoder). Absent for integer labels, which are used as-is.
   */
  classes?: string[];
  /** Feature column names (from the header, else "0", "1", ...). */
  columns: string[];
}

/** Split one line into fields, honouring double quotes. */
function splitLine(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (line.startsWith(delimiter, i)) { out.push(field); field = ''; i += delimiter.length - 1; }
    else field += c;
  }
  out.push(field);
  return out;
}

/** Parse CSV text; `file` names the source in errors. */
export function parseCsv(text: string, options: CsvOptions = {}, file = '<string>'): CsvData {
  const { header = true, labelColumn, delimiter = ',' } = options;
  if (delimiter.length === 0) throw new RangeError('readCsv: delimiter must not be empty');
  const lines = text.split(/\r?\n/);
  const rows: { fields: string[]; line: number }[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== '') rows.push({ fields: splitLine(l, delimiter).map((f) => f.trim()), line: i + 1 });
  });
  let names: string[];
  if (header) {
    const h = rows.shift();
    if (!h) throw new Error(`readCsv: ${file}: expected a header line, the file is empty`);
    names = h.fields;
  } else {
    if (rows.length === 0) throw new Error(`readCsv: ${file}: expected at least one data line, the file is empty`);
    names = rows[0]!.fields.map((_, i) => String(i));
  }
  const width = names.length;
  let labelAt = -1;
  if (labelColumn !== undefined) {
    labelAt = typeof labelColumn === 'number' ? labelColumn : names.indexOf(labelColumn);
    if (!Number.isInteger(labelAt) || labelAt < 0 || labelAt >= width) {
      throw new RangeError(`readCsv: ${file}: label column ${JSON.stringify(labelColumn)} not found; the columns are ${names.map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }
  const nf = labelAt >= 0 ? width - 1 : width;
  const n = rows.length;
  const feats = new Float32Array(n * nf);
  const rawLabels: string[] = [];
  rows.forEach(({ fields, line }, r) => {
    if (fields.length !== width) throw new Error(`readCsv: ${file}: line ${line}: expected ${width} fields, got ${fields.length}`);
    let k = 0;
    fields.forEach((cell, c) => {
      if (c === labelAt) { rawLabels.push(cell); return; }
      const v = cell === '' ? NaN : Number(cell);
      if (Number.isNaN(v) && !/^nan$/i.test(cell)) {
        throw new Error(`readCsv: ${file}: line ${line}, column ${c + 1} (${JSON.stringify(names[c])}): expected a number, got ${JSON.stringify(cell)}`);
      }
      feats[r * nf + k++] = v;
    });
  });
  const out: CsvData = { features: tensor(feats, { shape: [n, nf] }), columns: names.filter((_, c) => c !== labelAt) };
  if (labelAt >= 0) {
    const asInts = rawLabels.map((s) => (s !== '' && /^[+-]?\d+$/.test(s) ? Number(s) : NaN));
    if (asInts.every((v) => Number.isInteger(v) && Math.abs(v) <= 2147483647)) {
      out.labels = tensor(Int32Array.from(asInts));
    } else if (rawLabels.every((s) => s !== '' && Number.isFinite(Number(s)))) {
      const i = asInts.findIndex((v) => !Number.isInteger(v));
      throw new Error(`readCsv: ${file}: line ${rows[i]!.line}, column ${labelAt + 1} (${JSON.stringify(names[labelAt])}): expected an integer class label, got ${JSON.stringify(rawLabels[i])} (labels are class ids; for a real-valued target leave labelColumn out and take the column from features)`);
    } else {
      const classes = [...new Set(rawLabels)].sort();
      const id = new Map(classes.map((c, i) => [c, i]));
      out.labels = tensor(Int32Array.from(rawLabels, (s) => id.get(s)!));
      out.classes = classes;
    }
  }
  return out;
}

/** Read a CSV file: float32 features [N, F] and, with labelColumn, int32 labels [N]. */
export function readCsv(path: string, options: CsvOptions = {}): CsvData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`readCsv: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseCsv(text, options, path);
}
