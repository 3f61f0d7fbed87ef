/**
 * test-predictions.json: what the model predicted on the test split, kept small. It holds the
 * confusion matrix (rows: true class, columns: predicted class, so row i sums to the number of
 * test examples of class i and the whole matrix to the test-set size) and, for image data, the
 * first `maxImages` misclassified images as base64 bytes (pixel value v in [0, 1] stored as
 * round(255 v), channels first), enough for the report's grid without keeping the test set.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

export const TEST_PREDICTIONS_FILE = 'test-predictions.json';
export const TEST_PREDICTIONS_FORMAT = 'descent-test-predictions/1';

export interface TestPredictionsInput {
  /** Class names, index = class id (default: the numbers 0..K-1). */
  classes?: string[];
  /** True class of each test example. */
  labels: ArrayLike<number>;
  /** Predicted class (argmax of the model's output) of each test example. */
  predictions: ArrayLike<number>;
  /** For image data: the layout [C, H, W] and the pixels of test example `index`, values in [0, 1]. */
  images?: { shape: number[]; pixels: (index: number) => Float32Array };
  /** Most misclassified images to keep (default 48). */
  maxImages?: number;
}

export interface MisclassifiedImage {
  /** Position in the test split. */
  index: number;
  label: number;
  prediction: number;
  /** C*H*W bytes, channels first, base64. */
  pixels: string;
}

export interface TestPredictions {
  format: typeof TEST_PREDICTIONS_FORMAT;
  classes: string[];
  count: number;
  correct: number;
  /** confusion[true][predicted] = number of test examples. */
  confusion: number[][];
  /** Test examples misclassified in all (the images below are the first of them). */
  misclassified: number;
  images?: { shape: [number, number, number]; items: MisclassifiedImage[] };
}

function classOf(who: string, what: string, v: number, i: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${who}: ${what}[${i}] is ${v}; expected a class index (a non-negative integer)`);
  return v;
}

/** Build the record that writeTestPredictions stores (exported for tests and other writers). */
export function summarizePredictions(o: TestPredictionsInput): TestPredictions {
  const who = 'writeTestPredictions';
  const n = o.labels.length;
  if (o.predictions.length !== n) throw new RangeError(`${who}: ${n} labels but ${o.predictions.length} predictions; expected one prediction per test example`);
  let k = o.classes?.length ?? 0;
  for (let i = 0; i < n; i++) {
    k = Math.max(k, classOf(who, 'labels', o.labels[i]!, i) + 1, classOf(who, 'predictions', o.predictions[i]!, i) + 1);
  }
  if (o.classes && k > o.classes.length) throw new RangeError(`${who}: a class index reaches ${k - 1}, but only ${o.classes.length} class names were given`);
  const classes = o.classes ? [...o.classes] : Array.from({ length: k }, (_, i) => String(i));
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const wrong: number[] = [];
  for (let i = 0; i < n; i++) {
    confusion[o.labels[i]!]![o.predictions[i]!]!++;
    if (o.labels[i] !== o.predictions[i]) wrong.push(i);
  }
  const out: TestPredictions = { format: TEST_PREDICTIONS_FORMAT, classes, count: n, correct: n - wrong.length, confusion, misclassified: wrong.length };
  if (o.images) out.images = encodeImages(who, o.images, wrong, o, o.maxImages ?? 48);
  return out;
}

function encodeImages(
  who: string,
  images: NonNullable<TestPredictionsInput['images']>,
  wrong: number[],
  o: TestPredictionsInput,
  maxImages: number,
): NonNullable<TestPredictions['images']> {
  const s = images.shape;
  if (s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0))
    throw new RangeError(`${who}: images.shape must be [C, H, W] of positive integers, got [${s.join(', ')}]`);
  if (!Number.isInteger(maxImages) || maxImages < 0) throw new RangeError(`${who}: maxImages must be a non-negative integer, got ${maxImages}`);
  const size = s[0]! * s[1]! * s[2]!;
  const items = wrong.slice(0, maxImages).map((index): MisclassifiedImage => {
    const px = images.pixels(index);
    if (px.length !== size)
      throw new RangeError(`${who}: images.pixels(${index}) has ${px.length} values; expected C*H*W = ${size} for shape [${s.join(', ')}]`);
    const bytes = new Uint8Array(size);
    for (let j = 0; j < size; j++) {
      const v = px[j]!;
      bytes[j] = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 255) : 0;
    }
    return { index, label: o.labels[index]!, prediction: o.predictions[index]!, pixels: Buffer.from(bytes).toString('base64') };
  });
  return { shape: [s[0]!, s[1]!, s[2]!], items };
}

/** Write runDir/test-predictions.json (atomically); returns its path. */
export function writeTestPredictions(runDir: string, o: TestPredictionsInput): string {
  const path = join(runDir, TEST_PREDICTIONS_FILE);
  writeFileAtomic(path, JSON.stringify(summarizePredictions(o)) + '\n');
  return path;
}

/** Read runDir/test-predictions.json; undefined when the run has none. */
export function readTestPredictions(runDir: string): TestPredictions | undefined {
  const path = join(runDir, TEST_PREDICTIONS_FILE);
  if (!existsSync(path)) return undefined;
  let p: TestPredictions;
  try {
    p = JSON.parse(readFileSync(path, 'utf8')) as TestPredictions;
  } catch (e) {
    throw new Error(`readTestPredictions: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (p?.format !== TEST_PREDICTIONS_FORMAT || !Array.isArray(p.confusion)) {
    throw new Error(`readTestPredictions: ${path} is not a ${TEST_PREDICTIONS_FORMAT} file (format ${JSON.stringify(p?.format)})`);
  }
  return p;
}
