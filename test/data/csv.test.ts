/** CSV reader: the header rule, label vocabularies and class ids, non-finite features. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseCsv, readCsv } from '../../src/node/index.js';
import '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-csv-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('CSV header rule', () => {
  it("'auto' (the default): the first line is a header iff one of its cells is not a number", () => {
    // all numbers: data (this used to drop the first row as a header)
    const a = parseCsv('1,2\n3,4\n');
    assert.equal(a.header, false);
    assert.deepEqual(a.features.toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(a.columns, ['0', '1']);
    // one word: a header; NaN, Inf and exponents are numbers, so a data line with them is data
    assert.equal(parseCsv('a,2\n3,4\n').header, true);
    assert.deepEqual(parseCsv('x,y\n3,4\n').columns, ['x', 'y']);
    const b = parseCsv('1e3,-0.5\n3,4\n');
    assert.equal(b.header, false);
    assert.deepEqual(b.features.toArray(), [[1000, -0.5], [3, 4]]);
    assert.equal(parseCsv('nan,-inf\n3,4\n', { allowNan: true }).header, false);
    // an empty cell is a missing number, not a name
    assert.equal(parseCsv('1,\n3,4\n', { allowNan: true }).header, false);
  });

  it('header: true / false override the rule', () => {
    assert.deepEqual(parseCsv('1,2\n3,4\n', { header: true }).features.toArray(), [[3, 4]]);
    assert.deepEqual(parseCsv('1,2\n3,4\n', { header: true }).columns, ['1', '2']);
    const r = parseCsv('5.1,3.5,setosa\n4.9,3.0,versicolor\n', { header: false, labelColumn: 2 });
    assert.equal(r.header, false);
    assert.deepEqual(r.classes, ['setosa', 'versicolor']);
    assert.deepEqual(r.labels!.toArray(), [0, 1]);
    assert.throws(() => parseCsv('1\n', { header: 'yes' as never }), /header must be true, false or 'auto', got "yes"/);
  });

  it('a missing label column says how line 1 was read', () => {
    assert.throws(() => parseCsv('5.1,3.5,setosa\n4.9,3.0,versicolor\n', { labelColumn: 'label' }, 'iris.csv'),
      /iris\.csv: label column "label" not found; the columns are "5\.1", "3\.5", "setosa" \(line 1 was read as a header because "setosa" is not a number; header: false \(--no-header\) reads it as data\)/);
    assert.throws(() => parseCsv('1,2,0\n', { labelColumn: 'label' }, 'one.csv'), /one\.csv: label column "label" not found; the columns are "0", "1", "2" \(line 1 was read as data because all its cells are numbers; header: true \(--header\)/);
  });

  it('an empty file, and a header-only file (no rows: the caller decides)', () => {
    assert.throws(() => readCsv(file('empty.csv', '\n\n')), /empty\.csv: the file is empty/);
    const h = readCsv(file('h.csv', 'x,y,label\n'), { labelColumn: 'label' });
    assert.deepEqual(h.features.shape, [0, 2]);
    assert.equal(h.labels!.size, 0);
  });
});

describe('CSV labels', () => {
  it('a given vocabulary maps the labels, so a class missing from this file shifts nothing', () => {
    // The training file has cat, dog, fish; a test file without cat must still map dog -> 1, fish -> 2.
    const tr = parseCsv('x,label\n1,cat\n2,dog\n3,fish\n', { labelColumn: 'label' });
    assert.deepEqual(tr.classes, ['cat', 'dog', 'fish']);
    const te = parseCsv('x,label\n1,fish\n2,dog\n', { labelColumn: 'label', classes: tr.classes });
    assert.deepEqual(te.labels!.toArray(), [2, 1]);
    assert.deepEqual(te.classes, ['cat', 'dog', 'fish']);
    // without it the test file would have numbered its own classes: dog -> 0, fish -> 1
    assert.deepEqual(parseCsv('x,label\n1,fish\n2,dog\n', { labelColumn: 'label' }).labels!.toArray(), [1, 0]);
    // labels that look like integers are names too when a vocabulary is given
    assert.deepEqual(parseCsv('x,label\n1,2\n', { labelColumn: 'label', classes: ['10', '2'] }).labels!.toArray(), [1]);
  });

  it('a label outside the vocabulary names the file, line, column, label and the known classes', () => {
    assert.throws(() => readCsv(file('unseen.csv', 'x,label\n1,dog\n2,bird\n'), { labelColumn: 'label', classes: ['cat', 'dog'] }),
      (e: Error) => e.message.includes(join(dir, 'unseen.csv')) && /line 3, column 2 \("label"\): label "bird" is not one of the 2 known classes \("cat", "dog"\)/.test(e.message));
  });

  it('integer class ids must be >= 0, below numClasses when given, and fit in int32', () => {
    assert.throws(() => parseCsv('x,y\n1,0\n2,-1\n', { labelColumn: 'y' }, 'neg.csv'), /neg\.csv: line 3, column 2 \("y"\): expected a class id >= 0, got "-1"/);
    assert.throws(() => parseCsv('x,y\n1,0\n2,200\n', { labelColumn: 'y', numClasses: 3 }, 't.csv'), /t\.csv: line 3, column 2 \("y"\): expected a class id below 3 \(the classes are 0\.\.2\), got "200"/);
    assert.deepEqual(parseCsv('x,y\n1,0\n2,2\n', { labelColumn: 'y', numClasses: 3 }).labels!.toArray(), [0, 2]);
    // above int32: an error naming the line (this used to crash reading rows[-1])
    assert.throws(() => parseCsv('x,y\n1,0\n2,3000000000\n', { labelColumn: 'y' }, 'big.csv'), /big\.csv: line 3, column 2 \("y"\): expected a class id up to 2147483647, got "3000000000"/);
    assert.throws(() => parseCsv('x,y\n1,\n', { labelColumn: 'y' }, 'e.csv'), /e\.csv: line 2, column 2 \("y"\): expected a label, the cell is empty/);
  });
});

describe('CSV non-finite features', () => {
  const cases: [string, string, RegExp][] = [
    ['NaN', 'NaN', /got "NaN" \(not a number; allowNan: true \(--allow-nan\) reads it as NaN\)/],
    ['nan', 'nan', /got "nan" \(not a number/],
    ['Inf', 'inf', /got "inf" \(infinite; allowNan: true \(--allow-nan\) reads it as Inf\)/],
    ['-Infinity', '-Infinity', /got "-Infinity" \(infinite/],
    ['1e39 (overflows float32)', '1e39', /got "1e39" \(beyond the range of float32; allowNan: true \(--allow-nan\) reads it as Inf\)/],
    ['an empty cell', '', /got "" \(an empty cell; allowNan: true \(--allow-nan\) reads it as NaN\)/],
  ];
  for (const [what, cell, message] of cases) {
    it(`${what} is an error naming the file, line and column`, () => {
      const f = file('nonfinite.csv', `a,b,label\n1,2,0\n3,${cell},1\n`);
      assert.throws(() => readCsv(f, { labelColumn: 'label' }), (e: Error) => e.message.includes(f) && /line 3, column 2 \("b"\): expected a finite number, /.test(e.message) && message.test(e.message));
    });
  }

  it('allowNan reads them as NaN and +-Inf', () => {
    const r = parseCsv('a,b,c,d,e\nnan,,inf,-inf,1e39\n', { allowNan: true });
    const [row] = r.features.toArray() as number[][];
    assert.ok(Number.isNaN(row![0]) && Number.isNaN(row![1]));
    assert.deepEqual(row!.slice(2), [Infinity, -Infinity, Infinity]);
  });

  it('a word is still "expected a number", with or without allowNan', () => {
    assert.throws(() => parseCsv('a,b\n1,x7\n', { allowNan: true }, 'w.csv'), /w\.csv: line 2, column 2 \("b"\): expected a number, got "x7"/);
  });
});
