/**
 * `mpirun -np 2 descent train --stream` under a real mpirun on loopback (Open MPI): each rank
 * reads its own batches from the IDX files, and the run trains the weights of the same run with
 * the folder loaded, bit for bit. Skipped, saying why, where mpirun or the MPI addon is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeIdx } from '../../src/data/readers/idx.js';

const root = resolve(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');
const cli = join(root, 'test/cli/run-cli.ts');
const haveMpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const haveAddon = existsSync(join(root, 'native/mpi/build/Release/descent_mpi.node'));
const skip = !haveMpirun
  ? 'mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)'
  : !haveAddon
    ? 'the MPI addon is not built (npm run build:mpi)'
    : false;
// Open MPI refuses root without these; --oversubscribe lets 2 ranks share fewer cores.
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', DESCENT_BACKEND: '' };
const dir = mkdtempSync(join(tmpdir(), 'descent-mpi-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function mpirun(args: string[]) {
  return spawnSync('mpirun', ['--oversubscribe', '-np', '2', process.execPath, '--import', tsx, cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
}

/** Deterministic bytes (a 32-bit LCG). */
function bytes(n: number, seed: number, mod = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 24) % mod;
  }
  return out;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

function checkpointState(run: string) {
  const meta = json(join(run, 'checkpoint', 'checkpoint.json'));
  return {
    model: sha(join(run, 'checkpoint', 'model.safetensors')),
    optimizer: sha(join(run, 'checkpoint', 'optimizer.safetensors')),
    rng: meta.rng,
    loader: meta.loader,
    step: meta.step,
    summary: (({ train_loss, test_loss, test_accuracy }) => ({ train_loss, test_loss, test_accuracy }))(json(join(run, 'summary.json'))),
  };
}

describe('--stream over MPI', { skip }, () => {
  it('2 ranks streaming the IDX files train the weights of 2 ranks loading them, bit for bit (with dropout and --val-split)', () => {
    // 500 examples in batches of 32: 16 batches, 8 per rank; 400 after --val-split 0.2 (13 batches).
    const data = join(dir, 'idx');
    mkdirSync(data);
    writeIdx(join(data, 'train-images-idx3-ubyte'), { shape: [500, 28, 28], data: bytes(500 * 784, 1) });
    writeIdx(join(data, 'train-labels-idx1-ubyte'), { shape: [500], data: bytes(500, 2, 4) });
    writeIdx(join(data, 't10k-images-idx3-ubyte.gz'), { shape: [50, 28, 28], data: bytes(50 * 784, 3) });
    writeIdx(join(data, 't10k-labels-idx1-ubyte.gz'), { shape: [50], data: bytes(50, 4, 4) });
    const args = ['train', '--data', data, '--model', 'mlp:16', '--dropout', '0.2', '--batch-size', '32', '--epochs', '2', '--seed', '3', '--no-progress'];
    for (const extra of [[], ['--val-split', '0.2']]) {
      const tag = extra.length ? 'val' : 'plain';
      const streamed = mpirun([...args, ...extra, '--stream', '--out', join(dir, `streamed-${tag}`)]);
      assert.equal(streamed.status, 0, streamed.stderr.slice(-2000));
      assert.match(streamed.stderr, /batch 32 per rank x 2 MPI ranks = global batch 64/);
      const loaded = mpirun([...args, ...extra, '--out', join(dir, `loaded-${tag}`)]);
      assert.equal(loaded.status, 0, loaded.stderr.slice(-2000));
      assert.deepEqual(checkpointState(join(dir, `streamed-${tag}`)), checkpointState(join(dir, `loaded-${tag}`)));
      const cfg = json(join(dir, `streamed-${tag}`, 'config.json'));
      assert.equal(cfg.stream, true);
      assert.equal(cfg.ranks, 2);
    }
  });
});
