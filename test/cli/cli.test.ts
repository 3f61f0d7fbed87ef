import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../helpers.js';
import { assertRejected } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const base = mkdtempSync(join(tmpdir(), 'descent-cli-'));
after(() => rmSync(base, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'test/cli/run-cli.ts'), ...args], {
    cwd: base,
    encoding: 'utf8',
    env: { ...process.env, DESCENT_DEBUG: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('descent CLI: bad input is one line and exit code 2', () => {
  it('unknown flag', () => assertRejected(cli('train', '--lerning-rate', '0.1'), /unknown option '--lerning-rate'/));
  it('lr <= 0', () => assertRejected(cli('train', '--lr', '0'), /--lr must be a positive number, got "0"/));
  it('batch size 0', () => assertRejected(cli('train', '--batch-size', '0'), /--batch-size must be a positive integer, got "0"/));
  it('unknown optimizer', () => assertRejected(cli('train', '--optimizer', 'lbfgs'), /--optimizer.*lbfgs/));
  it('missing data folder', () => assertRejected(cli('train', '--data', join(base, 'nope')), /neither a built-in data set .* nor an existing folder/));
  it('corrupt IDX file', () => {
    const dir = join(base, 'corrupt');
    mkdirSync(dir, { recursive: true });
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'])
      writeFileSync(join(dir, f), Buffer.from([0, 0, 8, 3, 0, 0]));
    assertRejected(cli('train', '--data', dir), /train-images-idx3-ubyte.*(offset|byte)/);
  });
  it('bad model spec', () => assertRejected(cli('train', '--model', 'mlp:12,x'), /--model: unknown model "mlp:12,x"/));
  it('missing checkpoint', () => assertRejected(cli('evaluate', join(base, 'none')), /checkpoint: .*none: does not exist \(expected a checkpoint folder/));
  it('bad config file', () => {
    writeFileSync(join(base, 'bad.json'), '{"lr": 0.1, "colour": 1}');
    assertRejected(cli('train', '--config', join(base, 'bad.json')), /unknown option 'colour'/);
  });
});

describe('descent CLI: help', () => {
  it('each command has --help with examples', () => {
    for (const c of ['train', 'evaluate', 'predict']) {
      const r = cli(c, '--help');
      assert.equal(r.code, 0);
      assert.match(r.out, /Examples:/);
      assert.match(r.out, new RegExp(`\\$ descent ${c}`));
    }
  });
});

describe('descent CLI: train, evaluate, predict', () => {
  it('trains on Iris, prints the final JSON line, and the checkpoint evaluates and predicts', () => {
    const out = join(base, 'iris-run');
    const r = cli(
      'train',
      '--data',
      'iris',
      '--model',
      'mlp:16',
      '--optimizer',
      'adam',
      '--lr',
      '0.01',
      '--epochs',
      '30',
      '--batch-size',
      '16',
      '--seed',
      '1',
      '--out',
      out,
      '--json',
      '--no-progress',
    );
    assert.equal(r.code, 0, r.err);
    const last = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.deepEqual(Object.keys(last).sort(), ['backend', 'epochs', 'examples_per_second', 'seconds', 'test_accuracy', 'test_loss', 'threads', 'train_loss']);
    assert.ok(last.test_accuracy >= 0.9, `iris test accuracy ${last.test_accuracy}`);
    assert.equal(last.epochs, 30);
    for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoint/model.safetensors', 'checkpoint/checkpoint.json'])
      assert.ok(existsSync(join(out, f)), f);
    const ev = cli('evaluate', join(out, 'checkpoint'), '--json');
    assert.equal(ev.code, 0, ev.err);
    const e = JSON.parse(ev.out.trim());
    assert.equal(e.test_accuracy, last.test_accuracy);
    const pr = cli('predict', join(out, 'checkpoint'), '--indices', '0:3', '--top', '2', '--json');
    assert.equal(pr.code, 0, pr.err);
    const rows = JSON.parse(pr.out.trim());
    assert.equal(rows.length, 3);
    assert.equal(rows[0].predictions.length, 2);
    assert.ok(['setosa', 'versicolor', 'virginica'].includes(rows[0].predictions[0].name));
    // a config file gives the same options
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(cfg.optimizer, 'adam');
    assert.equal(cfg.lr, 0.01);
  });
});
