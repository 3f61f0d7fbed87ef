/**
 * SyncBatchNorm under a real `mpirun -np 2` (Open MPI, loopback): two ranks holding half a batch
 * each give the outputs, input gradients, summed parameter gradients and running statistics of
 * one process with the whole batch; fit() with SyncBatchNorm at batch B per rank follows the loss
 * curve of one process with BatchNorm at batch 2B (and a BatchNorm per rank does not); fit()
 * refuses an epoch whose batches leave a rank without one; `mpirun -np 2 descent train --sync-bn`
 * does the same from the command line (and refuses such an epoch with exit code 2). Skipped,
 * saying why, where mpirun or the MPI addon is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli as cliEntry, env, root, skip, tsx } from './mpi-setup.js';

describe('SyncBatchNorm over MPI', { skip }, () => {
  it('2 ranks with half a batch each are one process with the whole batch; fit() follows its loss curve', () => {
    const r = spawnSync('mpirun', ['--oversubscribe', '-np', '2', process.execPath, '--import', tsx, join(root, 'test/distributed/sync-bn-ranks.ts')], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `exit ${r.status}: ${String(r.stderr).slice(-2000)}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.ranks, 2);
    // Differences relative to each tensor's largest value, the worst over both ranks and two
    // steps: y and dx (this rank's rows), dw and db (summed over the ranks), the running
    // statistics after two steps, and the eval-mode output.
    for (const [name, tol] of [
      ['f64_2d', 1e-12],
      ['f64_1d', 1e-12],
      ['f32_3d', 1e-5],
    ] as const) {
      for (const [k, v] of Object.entries(out.layer[name] as Record<string, number>)) assert.ok(v <= tol, `${name} ${k}: ${v} > ${tol}`);
    }
    // Two epochs of 8 updates: SyncBatchNorm at 16 per rank is BatchNorm at 32 in one process...
    assert.equal(out.steps, 16);
    assert.ok(out.syncVsOne <= 1e-4, `loss curves differ by ${out.syncVsOne} (relative)`);
    // ...and a BatchNorm per rank (each half normalised by its own statistics) is not.
    assert.ok(out.perRankVsOne > 1e-3, `a BatchNorm per rank should not match: ${out.perRankVsOne}`);
    assert.match(out.refused, /fit: the model's layer\(s\) '1' \(SyncBatchNorm\).*expected the epoch's batches to be a multiple of 2, got 7/);
  });
});

describe('descent train --sync-bn over MPI', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'descent-sync-bn-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = [process.execPath, '--import', tsx, cliEntry];
  const model = ['--model', 'dense:32,bn,dense:16', '--seed', '3', '--epochs', '2', '--no-progress', '--log-every', '1'];
  const run = (args: string[]) => spawnSync(args[0]!, args.slice(1), { env, encoding: 'utf8', timeout: 120_000 });
  const steps = (out: string) =>
    readFileSync(join(dir, out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; loss: number })
      .filter((l) => l.type === 'step')
      .map((l) => l.loss);

  it('2 ranks at batch 105 follow one process at batch 210, a short last batch included; without it they do not; an uneven epoch is exit code 2', () => {
    // 6,000 examples: 58 batches of 105, the last of 15 (29 updates of 2 ranks, the last of 105 + 15
    // examples), as 29 batches of 210 in one process, the last of 120; two epochs, so that the
    // updates made from unequal batches show in the second epoch's losses.
    const sync = run(['mpirun', '--oversubscribe', '-np', '2', ...cli, 'train', ...model, '--batch-size', '105', '--sync-bn', '--out', join(dir, 'sync')]);
    assert.equal(sync.status, 0, String(sync.stderr).slice(-2000));
    const own = run(['mpirun', '--oversubscribe', '-np', '2', ...cli, 'train', ...model, '--batch-size', '105', '--out', join(dir, 'own')]);
    assert.equal(own.status, 0, String(own.stderr).slice(-2000));
    const one = run([...cli, 'train', ...model, '--batch-size', '210', '--out', join(dir, 'one')]);
    assert.equal(one.status, 0, String(one.stderr).slice(-2000));
    const [a, b, c] = [steps('sync'), steps('own'), steps('one')];
    assert.equal(a.length, 58);
    assert.equal(c.length, 58);
    const worst = (x: number[]) => Math.max(...x.map((v, i) => Math.abs(v - c[i]!) / c[i]!));
    assert.ok(worst(a) <= 1e-4, `--sync-bn loss curve differs from one process by ${worst(a)}`);
    assert.ok(worst(b) > 1e-3, `a BatchNorm per rank should not match one process: ${worst(b)}`);
    assert.equal(JSON.parse(readFileSync(join(dir, 'sync', 'config.json'), 'utf8')).syncBn, true);
    // 6,000 / 96 = 63 batches (the last of 48): rank 1 would miss the last forward pass.
    const uneven = run(['mpirun', '--oversubscribe', '-np', '2', ...cli, 'train', ...model, '--batch-size', '96', '--sync-bn', '--out', join(dir, 'uneven')]);
    assert.equal(uneven.status, 2);
    assert.match(uneven.stderr, /--sync-bn: 6000 training examples at --batch-size 96 make 63 batches an epoch, which do not divide over the 2 ranks/);
    assert.equal(existsSync(join(dir, 'uneven', 'config.json')), false);
  });
});
