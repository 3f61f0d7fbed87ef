/**
 * Reading a run folder for the report: config.json, summary.json, test-predictions.json and the
 * lines of metrics.jsonl, each made compact. A gradient-statistics line carries one value per
 * example of its batch; the page needs only their distribution, so the arrays become quantiles
 * and a histogram on a fixed logarithmic grid (bin k holds values in [10^(k/10), 10^((k+1)/10))).
 * Fixed bins let per-line histograms be added into per-epoch ones exactly, in the page and live.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readTestPredictions } from './predictions.js';
import type { TestPredictions } from './predictions.js';

/** Bins per decade of the per-example gradient norm histograms. */
export const BINS_PER_DECADE = 10;
/** The quantiles kept from each per-example array, in this order. */
export const QUANTILES = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1] as const;

export type CompactRecord = Record<string, unknown> & { type: string };

export interface RunData {
  name: string;
  dir: string;
  config?: Record<string, unknown>;
  summary?: Record<string, unknown>;
  predictions?: TestPredictions;
  records: CompactRecord[];
  /** Bytes of metrics.jsonl read, up to the end of its last complete line. */
  offset: number;
  /** Changes whenever config.json, summary.json or test-predictions.json change. */
  metaSig: string;
  /** Problems met while reading (unreadable lines or files); the page lists them. */
  warnings: string[];
}

/** Linear-interpolation quantiles of a sorted array (NumPy's default method). */
function quantilesOf(sorted: number[]): number[] {
  return QUANTILES.map((q) => {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos),
      hi = Math.ceil(pos);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  });
}

function finiteValues(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)) : [];
}

/** Sparse histogram {bin: count} on the fixed log grid; values <= 0 are counted under "zero". */
export function logHistogram(values: number[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const v of values) {
    const k = v > 0 ? String(Math.floor(Math.log10(v) * BINS_PER_DECADE)) : 'zero';
    h[k] = (h[k] ?? 0) + 1;
  }
  return h;
}

/** The fields the page draws, without per-example arrays and timestamps. */
export function compactRecord(r: Record<string, unknown>): CompactRecord | undefined {
  const type = r.type;
  if (type !== 'step' && type !== 'epoch' && type !== 'stats' && type !== 'diverged') return undefined;
  const { time: _time, per_example_norms, cosine_to_mean, ...rest } = r;
  const out: CompactRecord = { ...rest, type };
  if (type === 'stats') {
    const norms = finiteValues(per_example_norms).sort((a, b) => a - b);
    if (norms.length) {
      out.norm_quantiles = quantilesOf(norms);
      out.norm_histogram = logHistogram(norms);
      out.norm_count = norms.length;
    }
    const cos = finiteValues(cosine_to_mean).sort((a, b) => a - b);
    if (cos.length) out.cosine_quantiles = quantilesOf(cos);
  }
  return out;
}

/** Parse complete lines of metrics.jsonl; bad lines are counted, not fatal. */
export function parseMetricsLines(text: string): { records: CompactRecord[]; bad: number } {
  const records: CompactRecord[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as unknown;
      if (typeof r !== 'object' || r === null || Array.isArray(r)) {
        bad++;
        continue;
      }
      const c = compactRecord(r as Record<string, unknown>);
      if (c) records.push(c);
    } catch {
      bad++;
    }
  }
  return { records, bad };
}

/**
 * Read metrics.jsonl from byte `from` up to the end of its last complete line (a line still
 * being written is left for the next read). Returns the new offset.
 */
export function readMetricsFrom(path: string, from: number): { records: CompactRecord[]; offset: number; bad: number; truncated: boolean } {
  if (!existsSync(path)) return { records: [], offset: 0, bad: 0, truncated: from > 0 };
  const size = statSync(path).size;
  if (size < from) return { records: [], offset: 0, bad: 0, truncated: true };
  if (size === from) return { records: [], offset: from, bad: 0, truncated: false };
  const buf = Buffer.alloc(size - from);
  const fd = openSync(path, 'r');
  let got = 0;
  try {
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const end = buf.subarray(0, got).lastIndexOf(0x0a) + 1;
  const { records, bad } = parseMetricsLines(buf.subarray(0, end).toString('utf8'));
  return { records, offset: from + end, bad, truncated: false };
}

function readJson(path: string, warnings: string[]): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    warnings.push(`${basename(path)} does not hold a JSON object`);
  } catch (e) {
    warnings.push(`${basename(path)} is not valid JSON (${(e as Error).message})`);
  }
  return undefined;
}

/** A signature of the run's small files (their sizes and modification times). */
export function metaSignature(dir: string): string {
  return ['config.json', 'summary.json', 'test-predictions.json']
    .map((f) => {
      const p = join(dir, f);
      if (!existsSync(p)) return '-';
      const s = statSync(p);
      return `${s.size}:${s.mtimeMs}`;
    })
    .join('|');
}

/** config.json, summary.json and test-predictions.json of a run (what may change besides the metrics). */
export function readRunMeta(dir: string, warnings: string[] = []): Pick<RunData, 'config' | 'summary' | 'predictions' | 'metaSig'> {
  const metaSig = metaSignature(dir);
  let predictions: TestPredictions | undefined;
  try {
    predictions = readTestPredictions(dir);
  } catch (e) {
    warnings.push((e as Error).message);
  }
  return { config: readJson(join(dir, 'config.json'), warnings), summary: readJson(join(dir, 'summary.json'), warnings), predictions, metaSig };
}

/** Everything the report shows about the run in `dir` (allowEmpty: a folder not written yet is an empty run). */
export function readRun(dir: string, name?: string, o: { allowEmpty?: boolean } = {}): RunData {
  const isDir = existsSync(dir) && statSync(dir).isDirectory();
  if (!isDir && !o.allowEmpty) throw new Error(`readRun: ${dir} is not a folder (expected a run folder written by descent train)`);
  const hasAny = ['metrics.jsonl', 'config.json', 'summary.json'].some((f) => existsSync(join(dir, f)));
  if (!hasAny && !o.allowEmpty)
    throw new Error(`readRun: ${dir} has no metrics.jsonl, config.json or summary.json; expected a run folder written by descent train`);
  const warnings: string[] = [];
  const meta = readRunMeta(dir, warnings);
  const m = readMetricsFrom(join(dir, 'metrics.jsonl'), 0);
  if (m.bad) warnings.push(`metrics.jsonl: ${m.bad} unreadable line${m.bad === 1 ? '' : 's'} skipped`);
  return { name: name ?? basename(resolve(dir)), dir: resolve(dir), ...meta, records: m.records, offset: m.offset, warnings };
}
