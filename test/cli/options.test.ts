/**
 * The option table drives help, validation and --config; --backend and `descent info`; the small
 * things a new user hit (no arguments, "1 epoch", lr 0.001, a diverged run's --json).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import '../helpers.js';
import { ACTIVATION_CHOICES } from '../../src/nn/registry.js';
import { OPTIMIZER_NAMES, SCHEDULE_NAMES } from '../../src/optim/registry.js';
import { addOptions, RUN_OPTIONS, TRAIN_OPTIONS } from '../../src/cli/options.js';
import { formatLr, plural } from '../../src/cli/progress.js';

const root = join(import.meta.dirname, '..', '..');
const base = mkdtempSync(join(tmpdir(), 'descent-options-'));
after(() => rmSync(base, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const { DESCENT_BACKEND: _, ...inherited } = process.env;
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'test/cli/run-cli.ts'), ...args], {
    cwd: base,
    encoding: 'utf8',
    env: { ...inherited, DESCENT_DEBUG: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the option table', () => {
  it('every option is keyed by its camelCase attribute (the --config key and config.json field)', () => {
    assert.doesNotThrow(() => addOptions(new Command('t'), { ...TRAIN_OPTIONS, ...RUN_OPTIONS }));
  });

  it('choices come from the library registries', () => {
    assert.deepEqual(TRAIN_OPTIONS.activation.choices!(), ACTIVATION_CHOICES);
    assert.ok(ACTIVATION_CHOICES.includes('softplus'));
    assert.deepEqual(TRAIN_OPTIONS.optimizer.choices!(), OPTIMIZER_NAMES);
    assert.deepEqual(TRAIN_OPTIONS.schedule.choices!(), SCHEDULE_NAMES);
  });

  it('help shows numeric defaults as numbers and lists the choices', () => {
    const r = cli(['train', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /learning rate \(default: 0\.05\)/);
    assert.match(r.out, /examples per mini-batch \(default: 64\)/);
    assert.doesNotMatch(r.out, /default: "\d/);
    assert.match(r.out.replace(/\s+/g, ' '), /softplus/);
  });

  it('an unknown activation is refused with the same list from the flag and from --config', () => {
    const flag = cli(['train', '--activation', 'swish']);
    writeFileSync(join(base, 'act.json'), '{"activation": "swish"}');
    const file = cli(['train', '--config', join(base, 'act.json')]);
    assert.equal(flag.code, 2);
    assert.equal(file.code, 2);
    const expected = `descent: error: --activation must be one of ${ACTIVATION_CHOICES.join(', ')}, got "swish"\n`;
    assert.equal(flag.err, expected);
    assert.equal(file.err, expected);
  });

  it('an unknown backend is one line and exit 2', () => {
    const r = cli(['train', '--backend', 'cuda']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^descent: error: --backend must be one of js.*, got "cuda"\n$/);
  });
});

describe('descent with no arguments', () => {
  it('prints the command list to stderr and exits 2', () => {
    const r = cli([]);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    for (const c of ['train', 'evaluate', 'predict', 'explain', 'info']) assert.match(r.err, new RegExp(`^\\s+${c}\\b`, 'm'));
  });
});

describe('descent info', () => {
  it('prints one fact a line', () => {
    const r = cli(['info']);
    assert.equal(r.code, 0, r.err);
    for (const fact of ['backend', 'threads', 'wasm simd', 'wasm relaxed simd', 'wasm threads', 'native kernels', 'webgpu', 'mpi']) {
      assert.match(r.out, new RegExp(`^${fact}: \\S`, 'm'), fact);
    }
  });

  it('--json, and --backend / DESCENT_BACKEND choose the backend', () => {
    const r = cli(['info', '--backend', 'js', '--json']);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assert.equal(info.backend, 'js');
    assert.equal(info.threads, 1);
    assert.deepEqual(Object.keys(info.wasm).sort(), ['relaxedSimd', 'simd', 'threads']);
    assert.ok(info.backends.includes('js'));
    assert.equal(JSON.parse(cli(['info', '--json'], { DESCENT_BACKEND: 'js' }).out).backend, 'js');
  });
});

describe('descent train: backend, wording, divergence', () => {
  it('--backend js is recorded in config.json and --json; "1 epoch"; lr 0.001 printed as 0.001', () => {
    const out = join(base, 'js-run');
    const r = cli([
      'train',
      '--data',
      'iris',
      '--model',
      'mlp:8',
      '--epochs',
      '1',
      '--lr',
      '0.001',
      '--backend',
      'js',
      '--out',
      out,
      '--json',
      '--no-progress',
    ]);
    assert.equal(r.code, 0, r.err);
    const last = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(last.backend, 'js');
    assert.equal(last.threads, 1);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(cfg.backend, 'js');
    assert.equal(cfg.threads, 1);
    assert.match(r.err, /sgd lr 0\.001, batch 64, 1 epoch on js ->/);
    assert.doesNotMatch(r.err, /1 epochs/);
  });

  it('a diverged run prints its divergence record in --json and exits 1', () => {
    const out = join(base, 'diverged');
    const r = cli([
      'train',
      '--data',
      'iris',
      '--model',
      'mlp:16',
      '--epochs',
      '2',
      '--lr',
      '1e30',
      '--momentum',
      '0',
      '--schedule',
      'none',
      '--batch-size',
      '16',
      '--out',
      out,
      '--json',
      '--no-progress',
    ]);
    assert.equal(r.code, 1, r.err);
    const last = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.equal(typeof last.diverged?.step, 'number');
    assert.match(last.diverged.message, /training diverged at step/);
  });
});

describe('formatting', () => {
  it('learning rates keep their digits, epochs their number', () => {
    assert.equal(formatLr(0.001), '0.001');
    assert.equal(formatLr(0.05), '0.05');
    assert.equal(formatLr(3e-7), '3e-7');
    assert.equal(formatLr(0.000123456), '0.0001235');
    assert.equal(plural(1, 'epoch'), '1 epoch');
    assert.equal(plural(2, 'epoch'), '2 epochs');
  });
});
