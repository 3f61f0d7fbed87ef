/**
 * Strict inputs (issue 12, "never train on garbage"): every bad file, flag or data set is exit
 * code 2, one line on stderr, no stack trace, and nothing written, before anything trains.
 * Most cases run the CLI in this process (run() resolves to the exit code); one runs it as a child.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejected, cliInProcess as cli } from './helpers.js';
import '../helpers.js';

const root = join(import.meta.dirname, '..', '..');
const base = mkdtempSync(join(tmpdir(), 'descent-inputs-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** A folder of CSV files (name -> text). */
function csvDir(name: string, files: Record<string, string>): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** `descent train` on a folder, into a run folder that must not appear when it fails. */
async function trainFails(data: string, pattern: RegExp, ...flags: string[]): Promise<void> {
  const out = join(base, 'runs', `${data.split('/').pop()}-${Math.random().toString(36).slice(2)}`);
  assertRejected(await cli('train', '--data', data, '--model', 'mlp:4', '--epochs', '1', '--no-progress', '--out', out, ...flags), pattern, out);
}

const rows = (n: number, label: (i: number) => string | number) => Array.from({ length: n }, (_, i) => `${i % 3},${(i * 7) % 5},${label(i)}\n`).join('');

describe('descent train: degenerate data is exit 2, one line, nothing written', () => {
  it('a header-only train.csv (0 examples)', () =>
    trainFails(csvDir('hdr', { 'train.csv': 'x,y,label\n' }), /--data .*hdr: train\.csv has no examples \(only a header line\)/));
  it('an empty train.csv', () => trainFails(csvDir('empty', { 'train.csv': '\n' }), /empty\/train\.csv: the file is empty \(expected at least one line\)/));
  it('a 1-row file does not train on 0 examples', () =>
    trainFails(
      csvDir('one', { 'train.csv': 'x,y,label\n1,2,0\n' }),
      /train\.csv has 1 example: holding out 1 for the test split \(there is no test file\) leaves 0 to train on; training needs at least 2/,
    ));
  it('a 2-row file leaves 1 to train on', () =>
    trainFails(csvDir('two', { 'train.csv': 'x,y,label\n1,2,0\n2,1,1\n' }), /has 2 examples: holding out 1 .* leaves 1 to train on/));
  it('--val-split leaving fewer than 2 training examples', () =>
    trainFails(
      csvDir('val', { 'train.csv': 'x,y,label\n' + rows(10, (i) => i % 2) }),
      /--val-split 0\.9: holding out 7 of the 8 training examples for validation leaves 1 to train on/,
      '--val-split',
      '0.9',
    ));
  it('a header-only test.csv', () =>
    trainFails(
      csvDir('notest', { 'train.csv': 'x,y,label\n' + rows(6, (i) => i % 2), 'test.csv': 'x,y,label\n' }),
      /notest: test\.csv has no examples \(only a header line\)/,
    ));
  it('a single class', () =>
    trainFails(
      csvDir('single', { 'train.csv': 'x,y,label\n' + rows(6, () => 'cat') }),
      /train\.csv has a single class \("cat"\); a classifier needs examples of at least 2/,
    ));
  it('a label of -1', () =>
    trainFails(
      csvDir('neg', { 'train.csv': 'x,y,label\n1,2,0\n2,1,-1\n3,3,1\n' }),
      /neg\/train\.csv: line 3, column 3 \("label"\): expected a class id >= 0, got "-1"/,
    ));
  it('a test label of 200 does not make a 201-class model', () =>
    trainFails(
      csvDir('t200', { 'train.csv': 'x,y,label\n' + rows(6, (i) => i % 2), 'test.csv': 'x,y,label\n1,2,200\n' }),
      /t200\/test\.csv: line 2, column 3 \("label"\): expected a class id below 2 \(the classes are 0\.\.1\), got "200"/,
    ));
  it('a test class never seen in training', () =>
    trainFails(
      csvDir('unseen', { 'train.csv': 'x,y,label\n' + rows(6, (i) => ['cat', 'dog'][i % 2]!), 'test.csv': 'x,y,label\n1,2,dog\n2,2,fish\n' }),
      /unseen\/test\.csv: line 3, column 3 \("label"\): label "fish" is not one of the 2 known classes \("cat", "dog"\)/,
    ));
  it('class names in test.csv when train.csv has class ids', () =>
    trainFails(
      csvDir('mixed', { 'train.csv': 'x,y,label\n' + rows(6, (i) => i % 2), 'test.csv': 'x,y,label\n1,2,dog\n' }),
      /test\.csv has class names as labels \("dog", \.\.\.\) but train\.csv has integer class ids/,
    ));
  for (const [what, cell] of [
    ['NaN', 'NaN'],
    ['Inf', 'inf'],
    ['1e39', '1e39'],
    ['an empty cell', ''],
  ] as const) {
    it(`a feature cell ${what}`, () =>
      trainFails(
        csvDir(`nan-${what.replace(/ /g, '')}`, { 'train.csv': `x,y,label\n1,2,0\n2,${cell},1\n3,3,1\n` }),
        new RegExp(`train\\.csv: line 3, column 2 \\("y"\\): expected a finite number, got "${cell}" .*--allow-nan`),
      ));
  }
  it('--header on a file whose first line is the only data line', () =>
    trainFails(csvDir('hdr1', { 'train.csv': '1,2,0\n' }), /train\.csv has no examples/, '--header', '--label-column', '2'));

  it('IDX test labels beyond the classes of the training labels name the file', async () => {
    const dir = join(base, 'idx');
    mkdirSync(dir, { recursive: true });
    // IDX: two zero bytes, type 0x08 (uint8), the rank, then each dimension as a big-endian int32
    const idx = (shape: number[], data: number[]) => {
      const b = Buffer.alloc(4 + 4 * shape.length + data.length);
      b[2] = 8;
      b[3] = shape.length;
      shape.forEach((d, i) => b.writeInt32BE(d, 4 + 4 * i));
      Buffer.from(data).copy(b, 4 + 4 * shape.length);
      return b;
    };
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([4, 28, 28], new Array(4 * 784).fill(7)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([4], [0, 1, 1, 0]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([2, 28, 28], new Array(2 * 784).fill(9)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([2], [1, 5]));
    await trainFails(dir, /t10k-labels-idx1-ubyte: label 5 of example 1 is not a class of the training data \(expected 0\.\.1\)/);
  });
});

describe('descent train: memory is checked from sizes before anything is allocated', () => {
  const data = () => csvDir('mem', { 'train.csv': 'x,y,label\n' + rows(10, (i) => i % 2) });
  // 2*1e5 + 1e5 + 1e5*1e5 + 1e5 + 1e5*2 + 2 = 10,000,600,002 parameters; with gradient and momentum, 16 bytes each (x2 for the state's checkpoint copy): 149 GiB
  it('a huge model', () =>
    trainFails(
      data(),
      /--model mlp:100000,100000: training needs about 149 GiB \(10,000,600,002 parameters for 2 inputs and 2 classes: .*\), more than the .* (the wasm backend can hold|this machine has)/,
      '--model',
      'mlp:100000,100000',
    ));
  it('a huge label sizes no model', () =>
    trainFails(
      csvDir('hugelabel', { 'train.csv': 'x,y,label\n' + rows(6, (i) => i % 2) + '1,1,2000000000\n' }),
      /--model mlp:4: training needs about .* GiB \(10,000,000,017 parameters for 2 inputs and 2,000,000,001 classes/,
    ));
  it('--max-memory below the estimate', () =>
    trainFails(data(), /--model mlp:8: training needs about .* KiB .*, more than the 1 KiB set by --max-memory/, '--model', 'mlp:8', '--max-memory', '1K'));
  it('--max-memory that is not a size', () =>
    trainFails(data(), /--max-memory must be a size like 512M, 2G or a number of bytes, got "lots"/, '--max-memory', 'lots'));
  it('maxMemory and header in a config file', async () => {
    writeFileSync(join(base, 'mem.json'), JSON.stringify({ maxMemory: '1K' }));
    await trainFails(data(), /set by --max-memory/, '--config', join(base, 'mem.json'));
    writeFileSync(join(base, 'hdr.json'), JSON.stringify({ header: 'maybe' }));
    await trainFails(data(), /--header must be true, false or "auto", got "maybe"/, '--config', join(base, 'hdr.json'));
  });
});

describe('descent train, evaluate, predict: the training vocabulary and the header rule', () => {
  const out = join(base, 'runs', 'vocab');
  let data: string;
  before(async () => {
    // train.csv has bird, cat, dog (ids 0, 1, 2); test.csv lacks bird, so a per-file vocabulary would shift dog to 1
    data = csvDir('vocab', {
      'train.csv': 'x,y,label\n' + rows(12, (i) => ['bird', 'cat', 'dog'][i % 3]!),
      'test.csv': 'x,y,label\n1,1,dog\n2,0,cat\n0,3,dog\n',
    });
    const r = await cli('train', '--data', data, '--model', 'mlp:4', '--epochs', '1', '--no-progress', '--max-memory', '64M', '--out', out);
    assert.equal(r.code, 0, r.err);
  });

  it('test labels map through the training vocabulary, and it is stored with the model', async () => {
    const meta = JSON.parse(readFileSync(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    assert.deepEqual(meta.extra.data.classes, ['bird', 'cat', 'dog']);
    const r = await cli('predict', join(out, 'checkpoint'), '--json');
    assert.equal(r.code, 0, r.err);
    const got = JSON.parse(r.out) as { label: number; label_name: string }[];
    assert.deepEqual(
      got.map((p) => [p.label, p.label_name]),
      [
        [2, 'dog'],
        [1, 'cat'],
        [2, 'dog'],
      ],
    );
  });

  it('evaluate and predict reject a label the model does not know', async () => {
    const other = csvDir('vocab-other', { 'train.csv': 'x,y,label\n1,1,cat\n', 'test.csv': 'x,y,label\n1,1,dog\n2,2,fish\n' });
    assertRejected(
      await cli('evaluate', join(out, 'checkpoint'), '--data', other),
      /vocab-other\/test\.csv: line 3, column 3 \("label"\): label "fish" is not one of the 3 known classes \("bird", "cat", "dog"\)/,
    );
    assertRejected(await cli('predict', join(out, 'checkpoint'), '--data', other), /label "fish" is not one of the 3 known classes/);
  });

  it('predict --indices: an empty or reversed range, or garbage, is one line', async () => {
    const ck = join(out, 'checkpoint');
    assertRejected(
      await cli('predict', ck, '--indices', '5:2'),
      /--indices: the range 5:2 is empty \(a range START:END takes START, START\+1, \.\.\., END-1, so START must be below END\)/,
    );
    assertRejected(await cli('predict', ck, '--indices', '1:1'), /--indices: the range 1:1 is empty/);
    assertRejected(await cli('predict', ck, '--indices', '0:2,x'), /--indices: expected a range like 0:10 or a list like 3,7,9, got "0:2,x"/);
    assertRejected(await cli('predict', ck, '--indices', '0:4'), /--indices: 3 is out of range \(the test split has 3 examples\)/);
    // without --indices: the first 10, or all of a smaller test split
    const r = await cli('predict', ck, '--json');
    assert.equal(JSON.parse(r.out).length, 3);
  });

  it('predict --input file.csv: the header rule, --header / --no-header, no rows, non-finite cells', async () => {
    const ck = join(out, 'checkpoint');
    const input = (name: string, text: string) => (writeFileSync(join(base, name), text), join(base, name));
    // all numbers: both lines are examples (the first used to be dropped as a header)
    let r = await cli('predict', ck, '--input', input('in.csv', '1,2\n3,4\n'), '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).length, 2);
    r = await cli('predict', ck, '--input', join(base, 'in.csv'), '--header', '--json');
    assert.equal(JSON.parse(r.out).length, 1);
    r = await cli('predict', ck, '--input', input('named.csv', 'x,y\n1,2\n3,4\n'), '--json');
    assert.equal(JSON.parse(r.out).length, 2);
    assertRejected(
      await cli('predict', ck, '--input', join(base, 'named.csv'), '--no-header'),
      /--input: readCsv: .*named\.csv: line 1, column 1 \("0"\): expected a number, got "x"/,
    );
    assertRejected(await cli('predict', ck, '--input', input('none.csv', 'x,y\n')), /--input: .*none\.csv holds no examples/);
    assertRejected(
      await cli('predict', ck, '--input', input('nan.csv', '1,2\n3,nan\n')),
      /nan\.csv: line 2, column 2 \("1"\): expected a finite number, got "nan"/,
    );
    r = await cli('predict', ck, '--input', join(base, 'nan.csv'), '--allow-nan', '--json');
    assert.equal(r.code, 0, r.err);
  });
});

describe('descent train: headerless CSV', () => {
  it('a first line of numbers is data, so every row trains (the label column by index)', async () => {
    const data = csvDir('noheader', { 'train.csv': rows(10, (i) => i % 2) });
    const r = await cli(
      'train',
      '--data',
      data,
      '--label-column',
      '2',
      '--model',
      'mlp:4',
      '--epochs',
      '1',
      '--no-progress',
      '--out',
      join(base, 'runs', 'noheader'),
    );
    assert.equal(r.code, 0, r.err);
    // 10 rows, no header: 2 held out for the test split, 8 to train on
    assert.match(r.err, /: 8 train \/ 2 test examples/);
    // the model knows class ids only: class names in the data it is evaluated on are an error
    const named = csvDir('noheader-named', { 'train.csv': '1,2,cat\n2,1,dog\n', 'test.csv': '1,2,cat\n' });
    assertRejected(
      await cli('evaluate', join(base, 'runs', 'noheader', 'checkpoint'), '--data', named, '--no-header'),
      /noheader-named: train\.csv has class names as labels \("cat", \.\.\.\) but the model was trained on integer class ids/,
    );
    // and class ids beyond the model's classes name the file
    const beyond = csvDir('noheader-beyond', { 'train.csv': '1,2,0\n2,1,1\n', 'test.csv': '1,2,0\n3,3,7\n' });
    assertRejected(
      await cli('evaluate', join(base, 'runs', 'noheader', 'checkpoint'), '--data', beyond),
      /noheader-beyond\/test\.csv: line 2, column 3 \("2"\): expected a class id below 2 \(the classes are 0\.\.1\), got "7"/,
    );
  });
});

describe('descent CLI as a process: degenerate data', () => {
  it('exit code 2, one line on stderr, no run folder', () => {
    const data = csvDir('proc', { 'train.csv': 'x,y,label\n1,2,0\n' });
    const out = join(base, 'runs', 'proc');
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'test/cli/run-cli.ts'), 'train', '--data', data, '--out', out], {
      cwd: base,
      encoding: 'utf8',
      env: { ...process.env, DESCENT_DEBUG: '' },
    });
    assertRejected({ code: r.status ?? -1, err: r.stderr }, /train\.csv has 1 example/, out);
    assert.equal(r.stdout, '');
  });
});
