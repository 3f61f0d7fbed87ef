/**
 * `mpirun -np 2 descent train --stream` under a real mpirun on loopback (Open MPI): each rank
 * reads its own batches from the IDX files, and the run trains the weights of the same run with
 * the folder loaded, bit for bit. Skipped, saying why, where mpirun or the MPI addon is missing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeIdx } from '../../src/data/readers/idx.js';
import { lcgBytes as bytes } from '../cli/helpers.js';
import { checkpointState, json, mpirunCli, skip } from './mpi-setup.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-mpi-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const mpirun = (args: string[]) => mpirunCli(2, args);

/** What must be bit-identical between a streamed and a loaded run: checkpoint state and summary. */
function runState(run: string) {
  const summary = json(join(run, 'summary.json'));
  return { ...checkpointState(run), summary: { train_loss: summary.train_loss, test_loss: summary.test_loss, test_accuracy: summary.test_accuracy } };
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
      assert.deepEqual(runState(join(dir, `streamed-${tag}`)), runState(join(dir, `loaded-${tag}`)));
      const cfg = json(join(dir, `streamed-${tag}`, 'config.json'));
      assert.equal(cfg.stream, true);
      assert.equal(cfg.ranks, 2);
    }
  });
});
