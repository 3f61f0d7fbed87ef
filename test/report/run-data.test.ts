import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertClose } from '../helpers.js';
import { readTestPredictions, summarizePredictions, writeTestPredictions } from '../../src/report/index.js';
import { compactRecord, logHistogram, readMetricsFrom, readRun } from '../../src/report/run-data.js';
import { runNames, writeReport } from '../../src/report/report.js';
import { removeTempDirs, tempDir } from './fixtures.js';

after(removeTempDirs);

describe('test-predictions.json', () => {
  it('holds the confusion matrix and the first misclassified images as bytes', () => {
    const dir = tempDir();
    // example: 0    1    2    3    4
    // label:   a    b    c    b    a
    // pred:    a    c    c    b    b     -> wrong: 1 (b as c), 4 (a as b)
    const path = writeTestPredictions(dir, {
      classes: ['a', 'b', 'c'],
      labels: [0, 1, 2, 1, 0],
      predictions: Int32Array.from([0, 2, 2, 1, 1]),
      maxImages: 1,
      // pixel values i/4 and 1.2 (clamped to 1): example 1 gives round(255/4) = 64 and 255
      images: { shape: [1, 1, 2], pixels: (i) => Float32Array.from([i / 4, 1.2]) },
    });
    assert.equal(path, join(dir, 'test-predictions.json'));
    const p = readTestPredictions(dir)!;
    assert.deepEqual(p.confusion, [
      [1, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    assert.deepEqual({ count: p.count, correct: p.correct, misclassified: p.misclassified }, { count: 5, correct: 3, misclassified: 2 });
    assert.deepEqual(p.images, { shape: [1, 1, 2], items: [{ index: 1, label: 1, prediction: 2, pixels: Buffer.from([64, 255]).toString('base64') }] });
    assert.equal(readTestPredictions(tempDir()), undefined);
  });

  it('numbers the classes when no names are given, and rejects what does not fit', () => {
    assert.deepEqual(summarizePredictions({ labels: [3, 0], predictions: [0, 0] }).classes, ['0', '1', '2', '3']);
    assert.throws(() => summarizePredictions({ labels: [0, 1], predictions: [0] }), /writeTestPredictions: 2 labels but 1 predictions/);
    assert.throws(() => summarizePredictions({ labels: [0, -1], predictions: [0, 0] }), /writeTestPredictions: labels\[1\] is -1/);
    assert.throws(() => summarizePredictions({ classes: ['a'], labels: [0, 1], predictions: [0, 0] }), /class index reaches 1, but only 1 class names/);
    assert.throws(
      () => summarizePredictions({ labels: [0, 1], predictions: [1, 0], images: { shape: [1, 2, 2], pixels: () => new Float32Array(3) } }),
      /images\.pixels\(0\) has 3 values; expected C\*H\*W = 4/,
    );
  });
});

describe('metrics.jsonl for the page', () => {
  it('replaces per-example arrays by quantiles and a log-binned histogram', () => {
    const c = compactRecord({ type: 'stats', time: 'x', step: 4, per_example_norms: [4, 1, 3, 2, 5], cosine_to_mean: [0.5, -0.5] })!;
    assert.equal(c.time, undefined);
    assert.equal(c.per_example_norms, undefined);
    // sorted 1..5, linear interpolation at (n-1)q: q=0.1 -> 1.4, 0.25 -> 2, 0.5 -> 3, 0.75 -> 4, 0.9 -> 4.6
    assertClose(c.norm_quantiles as number[], [1, 1.4, 2, 3, 4, 4.6, 5]);
    // bin floor(10 log10 v): 1 -> 0, 2 -> 3 (3.01), 3 -> 4 (4.77), 4 -> 6 (6.02), 5 -> 6 (6.99)
    assert.deepEqual(c.norm_histogram, { 0: 1, 3: 1, 4: 1, 6: 2 });
    assertClose(c.cosine_quantiles as number[], [-0.5, -0.4, -0.25, 0, 0.25, 0.4, 0.5]);
    assert.deepEqual(logHistogram([0, -1, 0.05]), { zero: 2, '-14': 1 }); // 10 log10 0.05 = -13.01
    assert.equal(compactRecord({ type: 'something-else' }), undefined);
  });

  it('reads only complete lines and notices a restarted file', () => {
    const path = join(tempDir(), 'metrics.jsonl');
    const a = JSON.stringify({ type: 'step', step: 1, loss: 1 }) + '\n';
    writeFileSync(path, a + '{"type":"step","st');
    const first = readMetricsFrom(path, 0);
    assert.deepEqual(first.records, [{ type: 'step', step: 1, loss: 1 }]);
    assert.equal(first.offset, Buffer.byteLength(a));
    appendFileSync(path, 'ep":2,"loss":0.5}\n');
    const second = readMetricsFrom(path, first.offset);
    assert.deepEqual(second.records, [{ type: 'step', step: 2, loss: 0.5 }]);
    assert.equal(second.offset, readFileSync(path).length);
    writeFileSync(path, '');
    assert.equal(readMetricsFrom(path, second.offset).truncated, true);
  });

  it('refuses a folder that is not a run, naming it', () => {
    const dir = tempDir();
    assert.throws(() => readRun(dir), new RegExp(`readRun: ${dir} has no metrics.jsonl, config.json or summary.json`));
    assert.throws(() => writeReport(join(dir, 'nope')), /is not a folder/);
    assert.deepEqual(readRun(join(dir, 'nope'), 'x', { allowEmpty: true }).records, []);
  });

  it('tells runs with the same folder name apart by their parents', () => {
    assert.deepEqual(runNames(['/r/a/x', '/r/b/x', '/r/c/y']), ['a/x', 'b/x', 'y']);
    assert.deepEqual(runNames(['/r/a', '/r/a']), ['a', 'a (2)']);
  });
});
