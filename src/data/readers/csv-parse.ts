/**
 * CSV text of numeric features with an optional label column, from a string or from bytes (UTF-8,
 * decoded strictly: a byte sequence that is not UTF-8 is an error naming its byte and line; a
 * leading byte-order mark is dropped). Browser-safe: no file system here; readCsv (csv.ts) reads
 * files on Node with this parser.
 *
 * Fields may be quoted ("a,b", with "" for a quote inside); blank lines are skipped; \n and \r\n
 * line ends are accepted. The first line is a header when one of its cells is not a number (unless
 * `header` says). Features must be finite as float32 (an empty cell, NaN, Inf or 1e39 is an error
 * naming the line and column, unless `allowNan`); labels are class ids >= 0, or names mapped
 * through a vocabulary: the one given, else this file's names sorted.
 */
import type { Tensor } from '../../core/tensor.js';
import { tensor } from '../../ops/index.js';

/** CSV as text, or as its UTF-8 bytes (a fetch's arrayBuffer(), a file's contents). */
export type CsvInput = string | Uint8Array | ArrayBuffer;

export interface CsvOptions {
  /**
   * Whether the first line names the columns. 'auto' (the default): it does if and only if one of
   * its cells is not a number (an empty cell, NaN or Inf counts as a number).
   */
  header?: boolean | 'auto';
  /** The label column, by header name or 0-based index; omitted: every column is a feature. */
  labelColumn?: string | number;
  /** Field separator (default ','). */
  delimiter?: string;
  /**
   * The label vocabulary (e.g. the training data's `classes`): every label must be one of these
   * names and maps to its index; a label outside it is an error. Omitted: labels that are all
   * integers are class ids as they are, other labels get a vocabulary from this file.
   */
  classes?: readonly string[];
  /** Integer class ids must be below this (e.g. the training data's class count). */
  numClasses?: number;
  /** Read empty, NaN and infinite feature cells (and values beyond float32's range) as NaN / Inf instead of failing (default false). */
  allowNan?: boolean;
}

export interface CsvData {
  /** float32 [N, F]: every column but the label column, in file order. */
  features: Tensor;
  /** int32 [N]: the labels, when labelColumn is given. */
  labels?: Tensor;
  /**
   * The class names when the labels are not all integers (or a vocabulary was given): label i
   * means classes[i]; from the file, the names sorted (like scikit-learn's LabelEncoder). Absent
   * for integer labels, which are class ids as they are.
   */
  classes?: string[];
  /** Feature column names (from the header, else "0", "1", ...). */
  columns: string[];
  /** Whether the first line was read as a header. */
  header: boolean;
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

/** A cell's number: Number's syntax, or nan / inf / infinity in any case; '' is a missing value (NaN); undefined: not a number. */
function cellNumber(cell: string): number | undefined {
  if (cell === '') return NaN;
  const v = Number(cell);
  if (!Number.isNaN(v)) return v;
  const m = /^([+-]?)(nan|inf|infinity)$/i.exec(cell);
  if (!m) return undefined;
  return m[2]!.toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
}

/** Why a float32 feature value read from `cell` is not finite. */
function nonFiniteReason(cell: string, v: number): string {
  if (cell === '') return 'an empty cell';
  if (Number.isFinite(v)) return 'beyond the range of float32';
  return Number.isNaN(v) ? 'not a number' : 'infinite';
}

const MAX_CLASS_ID = 2147483647;

/** Names for an error message: the first few, then how many more. */
function listNames(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((n) => JSON.stringify(n)).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * Parse CSV from text or UTF-8 bytes: float32 features [N, F] and, with labelColumn, int32 labels
 * [N]. `file` names the source in errors, `who` is the function they start with.
 */
export function parseCsv(input: CsvInput, options: CsvOptions = {}, file = typeof input === 'string' ? '<string>' : '<bytes>', who = 'readCsv'): CsvData {
  return parseCsvText(csvText(input, file, who), options, file, who);
}

/** The text of the input: a string as it is (less a byte-order mark), bytes decoded as UTF-8, strictly. */
function csvText(input: CsvInput, file: string, who: string): string {
  if (typeof input === 'string') return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else throw new TypeError(`${who}: ${file}: expected CSV as a string, a Uint8Array or an ArrayBuffer, got ${input === null ? 'null' : typeof input}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a leading byte-order mark
  } catch {
    const { at, truncated } = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    const got = truncated ? 'the end of the data inside a character' : `byte 0x${bytes[at]!.toString(16).padStart(2, '0')}`;
    throw new Error(`${who}: ${file}: line ${line}, byte ${at}: expected UTF-8 text, got ${got} (save the file as UTF-8)`);
  }
}

/** How many bytes a UTF-8 sequence starting with `lead` has (1 for a byte that cannot start one). */
function utf8Length(lead: number): number {
  return lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 1;
}

/**
 * Where the first ill-formed UTF-8 sequence starts (the Unicode standard's table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), and whether the data ends inside it; called once
 * the decoder has refused the bytes, so there is one.
 */
function firstInvalidUtf8(b: Uint8Array): { at: number; truncated: boolean } {
  for (let i = 0; i < b.length; ) {
    const lead = b[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const n = utf8Length(lead);
    if (n === 1) return { at: i, truncated: false };
    // The second byte's range is narrower after E0, ED, F0 and F4; the others are 80..BF.
    let lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    let hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < n; k++) {
      const c = b[i + k];
      if (c === undefined || c < lo || c > hi) return { at: i, truncated: c === undefined };
      lo = 0x80;
      hi = 0xbf;
    }
    i += n;
  }
  return { at: b.length, truncated: true };
}

/** Parse CSV text; `file` names the source in errors. */
// lint-allow-long-function: one pass over the rows with the header, label and cell rules side by side; the rules are small helpers already
function parseCsvText(text: string, options: CsvOptions, file: string, who: string): CsvData {
  const { header = 'auto', labelColumn, delimiter = ',', allowNan = false } = options;
  if (delimiter.length === 0) throw new RangeError(`${who}: delimiter must not be empty`);
  if (header !== true && header !== false && header !== 'auto') throw new RangeError(`${who}: header must be true, false or 'auto', got ${JSON.stringify(header)}`);
  const lines = text.split(/\r?\n/);
  const rows: { fields: string[]; line: number }[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== '') rows.push({ fields: splitLine(l, delimiter).map((f) => f.trim()), line: i + 1 });
  });
  if (rows.length === 0) throw new Error(`${who}: ${file}: the file is empty (expected ${header === true ? 'a header line' : 'at least one line'})`);
  // The header rule: a first line with a cell that is not a number names the columns.
  const first = rows[0]!;
  const word = first.fields.find((f) => cellNumber(f) === undefined);
  const hasHeader = header === 'auto' ? word !== undefined : header;
  if (hasHeader) rows.shift();
  const names = hasHeader ? first.fields : first.fields.map((_, i) => String(i));
  const headerWhy = header !== 'auto' ? '' : hasHeader
    ? ` (line ${first.line} was read as a header because ${JSON.stringify(word)} is not a number; header: false (--no-header) reads it as data)`
    : ` (line ${first.line} was read as data because all its cells are numbers; header: true (--header) reads it as column names)`;
  const width = names.length;
  let labelAt = -1;
  if (labelColumn !== undefined) {
    labelAt = typeof labelColumn === 'number' ? labelColumn : names.indexOf(labelColumn);
    if (!Number.isInteger(labelAt) || labelAt < 0 || labelAt >= width) {
      throw new RangeError(`${who}: ${file}: label column ${JSON.stringify(labelColumn)} not found; the columns are ${listNames(names)}${headerWhy}`);
    }
  }
  const where = (line: number, c: number) => `${who}: ${file}: line ${line}, column ${c + 1} (${JSON.stringify(names[c])})`;
  const nf = labelAt >= 0 ? width - 1 : width;
  const n = rows.length;
  const feats = new Float32Array(n * nf);
  const rawLabels: string[] = [];
  rows.forEach(({ fields, line }, r) => {
    if (fields.length !== width) throw new Error(`${who}: ${file}: line ${line}: expected ${width} fields, got ${fields.length}`);
    let k = 0;
    fields.forEach((cell, c) => {
      if (c === labelAt) {
        if (cell === '') throw new Error(`${where(line, c)}: expected a label, the cell is empty`);
        rawLabels.push(cell);
        return;
      }
      const v = cellNumber(cell);
      if (v === undefined) throw new Error(`${where(line, c)}: expected a number, got ${JSON.stringify(cell)}`);
      const f = Math.fround(v);
      if (!Number.isFinite(f) && !allowNan) {
        throw new Error(`${where(line, c)}: expected a finite number, got ${JSON.stringify(cell)} (${nonFiniteReason(cell, v)}; allowNan: true (--allow-nan) reads it as ${Number.isNaN(f) ? 'NaN' : 'Inf'})`);
      }
      feats[r * nf + k++] = f;
    });
  });
  const out: CsvData = { features: tensor(feats, { shape: [n, nf] }), columns: names.filter((_, c) => c !== labelAt), header: hasHeader };
  if (labelAt >= 0) {
    const at = (i: number) => where(rows[i]!.line, labelAt);
    if (options.classes !== undefined) {
      // A given vocabulary: labels are names, mapped to their index in it.
      const known = options.classes;
      const id = new Map(known.map((c, i) => [c, i]));
      out.labels = tensor(Int32Array.from(rawLabels, (s, i) => {
        const k = id.get(s);
        if (k === undefined) throw new Error(`${at(i)}: label ${JSON.stringify(s)} is not one of the ${known.length} known classes (${listNames(known)})`);
        return k;
      }));
      out.classes = [...known];
    } else if (rawLabels.every((s) => /^[+-]?\d+$/.test(s))) {
      const { numClasses } = options;
      out.labels = tensor(Int32Array.from(rawLabels, (s, i) => {
        const v = Number(s);
        if (v < 0) throw new Error(`${at(i)}: expected a class id >= 0, got ${JSON.stringify(s)}`);
        if (numClasses !== undefined && v >= numClasses) throw new Error(`${at(i)}: expected a class id below ${numClasses} (the classes are 0..${numClasses - 1}), got ${JSON.stringify(s)}`);
        if (v > MAX_CLASS_ID) throw new Error(`${at(i)}: expected a class id up to ${MAX_CLASS_ID}, got ${JSON.stringify(s)}`);
        return v;
      }));
    } else if (rawLabels.every((s) => Number.isFinite(Number(s)))) {
      const i = rawLabels.findIndex((s) => !/^[+-]?\d+$/.test(s));
      throw new Error(`${at(i)}: expected an integer class label, got ${JSON.stringify(rawLabels[i])} (labels are class ids; for a real-valued target leave labelColumn out and take the column from features)`);
    } else {
      const classes = [...new Set(rawLabels)].sort();
      const id = new Map(classes.map((c, i) => [c, i]));
      out.labels = tensor(Int32Array.from(rawLabels, (s) => id.get(s)!));
      out.classes = classes;
    }
  }
  return out;
}

