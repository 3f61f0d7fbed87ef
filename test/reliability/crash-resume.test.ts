/**
 * The promise itself: a run killed with SIGKILL at any moment, inside any checkpoint write, and
 * resumed (as often as it takes) ends with the same weights, bit for bit, as a run that was never
 * interrupted; its metrics.jsonl has each step once; nothing half-written or left over stays.
 *
 * Each chain starts a real `descent train` process that kills itself at a chosen file operation
 * (test/reliability/crash-child.ts), then resumes from whatever is on disk (`--resume
 * RUN/checkpoint`, or a fresh start with `--overwrite` when no checkpoint was published yet),
 * again and again, until a process finishes. A few processes are killed from outside at a random
 * time instead. Every random or stateful part is on: dropout, accumulation, a validation split,
 * early stopping, the plateau schedule, DP-SGD's noise generator, gradient statistics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { Generator } from '../../src/core/random.js';

const root = mkdtempSync(join(tmpdir(), 'descent-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));
const child = join(import.meta.dirname, 'crash-child.ts');
/**
 * A process is killed at its k-th file operation, k drawn from 1..SPAN: a checkpoint write takes
 * about 15 operations and an epoch's metrics lines 5 to 10, so a process gets through an epoch or
 * two before it is killed. After MAX_KILLS kills a chain runs to the end; two chains make the 50
 * kills the promise is checked over. Longer soaks: DESCENT_CRASH_KILLS, DESCENT_CRASH_EPOCHS.
 */
const SPAN = 50;
const EPOCHS = process.env.DESCENT_CRASH_EPOCHS ?? '30';
const MAX_KILLS = Number(process.env.DESCENT_CRASH_KILLS ?? 26);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function launch(at: number, args: string[], killAfterMs?: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, String(at), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** Every file of the folder, recursively, links shown as links. */
function listing(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listing(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}${e.isSymbolicLink() ? '@' : ''}`],
  );
}

function tensorsOf(file: string): Record<string, number[]> {
  const { tensors } = decodeSafetensors(readFileSync(file), file);
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, Array.from(t.data)]));
}

/** metrics.jsonl without what depends on the clock. */
function metrics(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { time: _t, seconds: _s, examples_per_second: _e, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

/** Run, kill and resume in `dir` until a process finishes; then check it against the reference run. */
async function round(name: string, config: string[], dir: string, refDir: string, g: Generator, budget: number, outsideMs: number): Promise<number> {
  let kills = 0,
    processes = 0;
  for (;;) {
    const resumable = existsSync(join(dir, 'checkpoint'));
    const args = resumable ? ['train', '--resume', join(dir, 'checkpoint'), '--no-progress'] : [...config, '--out', dir, '--overwrite'];
    // Most kills land on a chosen file operation; every eighth comes from outside at a random time.
    const outside = kills % 8 === 7;
    const r =
      kills >= budget
        ? await launch(0, args)
        : outside
          ? await launch(0, args, outsideMs * (0.2 + 0.5 * g.nextFloat64()))
          : await launch(1 + (g.nextUint32() % SPAN), args);
    processes++;
    if (r.signal === 'SIGKILL') {
      kills++;
      continue;
    }
    assert.equal(r.code, 0, `${name}: process ${processes} failed: ${r.stderr}`);
    break;
  }
  // The same weights, buffers and optimizer state, bit for bit.
  assert.deepEqual(
    tensorsOf(join(dir, 'checkpoint', 'model.safetensors')),
    tensorsOf(join(refDir, 'checkpoint', 'model.safetensors')),
    `${name}: final weights`,
  );
  assert.deepEqual(
    tensorsOf(join(dir, 'checkpoint', 'optimizer.safetensors')),
    tensorsOf(join(refDir, 'checkpoint', 'optimizer.safetensors')),
    `${name}: optimizer state`,
  );
  // The same metrics, each step once, in order.
  const m = metrics(dir);
  assert.deepEqual(m, metrics(refDir), `${name}: metrics.jsonl after ${kills} kills`);
  const steps = m.filter((l) => l.type === 'step').map((l) => l.step as number);
  assert.deepEqual(
    steps,
    [...steps].sort((a, b) => a - b),
  );
  assert.equal(new Set(steps).size, steps.length);
  // Nothing half-written or left over: one checkpoint folder, the link to it, the run's files.
  const files = listing(dir).sort();
  const ckpt = files.filter((f) => /^checkpoint-\d+\//.test(f)).map((f) => f.split('/')[0]!);
  assert.equal(new Set(ckpt).size, 1, `${name}: one checkpoint folder: ${files.join(' ')}`);
  assert.ok(
    files.every((f) => !f.includes('.tmp')),
    `${name}: no temporary files: ${files.join(' ')}`,
  );
  assert.deepEqual(
    files.filter((f) => !f.startsWith('checkpoint-')),
    ['checkpoint@', 'config.json', 'metrics.jsonl', 'report.html', 'summary.json', 'test-predictions.json'],
  );
  return kills;
}

/**
 * Rounds of kill-and-resume until MAX_KILLS kills have landed (a run can finish before an outside
 * kill lands; the next round starts afresh). Returns the number of kills.
 */
async function chain(name: string, config: string[], seed: number): Promise<number> {
  const refDir = join(root, `${name}-ref`);
  const t = performance.now();
  const ref = await launch(0, [...config, '--out', refDir]);
  const refMs = performance.now() - t;
  assert.equal(ref.code, 0, ref.stderr);
  const g = new Generator(seed);
  let kills = 0,
    rounds = 0;
  while (kills < MAX_KILLS) {
    const dir = join(root, `${name}-${rounds++}`);
    kills += await round(name, config, dir, refDir, g, MAX_KILLS - kills, refMs);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${name}: ${kills} kills in ${rounds} rounds, final weights identical each time`);
  return kills;
}

describe('SIGKILL at any moment, then resume', { timeout: 600_000 }, () => {
  it('ends bit-identical to an uninterrupted run, with each step logged once and no leftovers', async () => {
    const common = [
      'train',
      '--data',
      'iris',
      '--model',
      'mlp:16',
      '--epochs',
      EPOCHS,
      '--batch-size',
      '16',
      '--log-every',
      '1',
      '--no-progress',
      '--seed',
      '3',
    ];
    const kills = await Promise.all([
      chain(
        'accumulate',
        [
          ...common,
          '--dropout',
          '0.2',
          '--accumulate',
          '2',
          '--val-split',
          '0.2',
          '--early-stopping',
          '8',
          '--schedule',
          'plateau',
          '--optimizer',
          'adam',
          '--lr',
          '0.02',
        ],
        11,
      ),
      chain('dp-sgd', [...common, '--dp-clip', '1', '--dp-noise', '0.3', '--grad-stats', '2', '--dropout', '0.1', '--optimizer', 'sgd', '--lr', '0.1'], 12),
    ]);
    assert.ok(kills[0]! + kills[1]! >= 50, `${kills.join(' + ')} kills; the promise is checked over at least 50`);
  });
});
